"""NYUDepthv2 in the layout released with DFormer."""
from ..registry import DATASETS
from .metainfo import NYU_DEPTH_V2_CLASSES
from .rgbd import RGBDSegDataset


@DATASETS.register_module()
class NYUDepthV2Dataset(RGBDSegDataset):
    """NYUDepthv2, 40 classes: ``RGB/*.jpg``, ``Depth/*.png`` (8-bit), ``Label/*.png``
    (0 = void, 1..40 = classes), ``train.txt`` (795) / ``test.txt`` (654)."""

    CLASSES = NYU_DEPTH_V2_CLASSES

    def __init__(self, data_root, pipeline=(), split='train', reduce_zero_label=True, **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, reduce_zero_label=reduce_zero_label, **kwargs)
