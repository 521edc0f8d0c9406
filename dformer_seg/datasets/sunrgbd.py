"""SUNRGBD in the layout released with DFormer."""
from ..registry import DATASETS
from .metainfo import SUNRGBD_CLASSES
from .rgbd import RGBDSegDataset


@DATASETS.register_module()
class SUNRGBDDataset(RGBDSegDataset):
    """SUNRGBD, 37 classes: ``RGB/*.jpg``, ``Depth/*.png``, labels (0 = void) in
    ``labels/`` (the official config) or ``Label/``, ``train.txt`` (5285) /
    ``test.txt`` (5050). Image sizes vary (at most 530x730)."""

    CLASSES = SUNRGBD_CLASSES
    DEFAULT_ANN_DIR = ('labels', 'Label')

    def __init__(self, data_root, pipeline=(), split='train', reduce_zero_label=True, **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, reduce_zero_label=reduce_zero_label, **kwargs)
