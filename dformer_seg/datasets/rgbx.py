"""RGB-D and RGB-T data sets in the layouts written by tools/dataset_converters/ (see docs/data.md)."""
from ..registry import DATASETS
from .metainfo import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    MFNET_CLASSES,
    MFNET_PALETTE,
    SCANNET_V2_CLASSES,
    STANFORD2D3DS_CLASSES,
)
from .rgbd import RGBDSegDataset


@DATASETS.register_module()
class MFNetDataset(RGBDSegDataset):
    """MFNet RGB-T, 9 classes (0 = 'unlabeled' counts as a class): ``RGB/*.png``, ``Thermal/*.png``
    (8-bit), ``Label/*.png`` (0..8), ``train.txt`` / ``val.txt`` / ``test.txt`` (from mfnet.py).

    The CMX / DFormer copy of MFNet is read as it is: its thermal folder ``Modal/`` is used where there
    is no ``Thermal/``.
    """

    CLASSES = MFNET_CLASSES
    PALETTE = MFNET_PALETTE
    DEFAULT_DEPTH_DIR = ('Thermal', 'Modal')

    def __init__(self, data_root, pipeline=(), split='train', img_suffix='.png', palette=None, **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, img_suffix=img_suffix,
                         palette=palette or self.PALETTE, **kwargs)


@DATASETS.register_module()
class ScanNetV2Dataset(RGBDSegDataset):
    """ScanNet-v2, the 20 benchmark classes: ``RGB/*.jpg``, ``Depth/*.png`` (16-bit millimetres),
    ``Label/*.png`` (0..19, 255 = ignore), ``train.txt`` / ``val.txt`` (from scannet.py)."""

    CLASSES = SCANNET_V2_CLASSES

    def __init__(self, data_root, pipeline=(), split='train', **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, **kwargs)


@DATASETS.register_module()
class Stanford2D3DSDataset(RGBDSegDataset):
    """Stanford-2D-3D-S, 13 classes: ``RGB/*.png``, ``Depth/*.png`` (16-bit millimetres) or ``HHA/*.png``,
    ``Label/*.png`` (0..12, 255 = ignore), ``train.txt`` / ``test.txt`` (from stanford2d3ds.py)."""

    CLASSES = STANFORD2D3DS_CLASSES

    def __init__(self, data_root, pipeline=(), split='train', img_suffix='.png', **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, img_suffix=img_suffix, **kwargs)


@DATASETS.register_module()
class CityscapesRGBDDataset(RGBDSegDataset):
    """Cityscapes (or a set in its layout) with depth from disparity, 19 classes: ``RGB/*.png``,
    ``Depth/*.tiff`` (float32 metres, 0 = no measurement), ``Label/*.png`` (trainIds, 255 = ignore),
    ``train.txt`` / ``val.txt`` (from cityscapes_disparity.py)."""

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE

    def __init__(self, data_root, pipeline=(), split='train', img_suffix='.png', depth_suffix='.tiff',
                 palette=None, **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, img_suffix=img_suffix,
                         depth_suffix=depth_suffix, palette=palette or self.PALETTE, **kwargs)
