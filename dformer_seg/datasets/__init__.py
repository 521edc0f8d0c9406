"""RGB-D data: data sets (DATASETS), transforms (PIPELINES) and loaders.

Importing this package registers everything; Jittor is imported only when a
loader is built.
"""
from . import pipelines  # noqa: F401  (registers the transforms)
from .builder import build_dataloader, build_dataset
from .classification import RGBDClassificationDataset
from .demo import DEMO_CLASSES, DemoRGBDDataset, generate_demo_dataset, render_scene
from .demo_cls import DEMO_CLS_CLASSES, generate_demo_cls_dataset, render_object_view
from .errors import DataError
from .metainfo import NYU_DEPTH_V2_CLASSES, SUNRGBD_CLASSES, label_palette, voc_colormap
from .nyu_depth_v2 import NYUDepthV2Dataset
from .rgbd import RGBDSegDataset
from .rgbx import CityscapesRGBDDataset, MFNetDataset, ScanNetV2Dataset, Stanford2D3DSDataset
from .sunrgbd import SUNRGBDDataset

__all__ = [
    'build_dataloader', 'build_dataset', 'DEMO_CLASSES', 'DemoRGBDDataset', 'generate_demo_dataset',
    'render_scene', 'DataError', 'NYU_DEPTH_V2_CLASSES', 'SUNRGBD_CLASSES', 'label_palette', 'voc_colormap',
    'NYUDepthV2Dataset', 'RGBDSegDataset', 'SUNRGBDDataset', 'CityscapesRGBDDataset', 'MFNetDataset',
    'ScanNetV2Dataset', 'Stanford2D3DSDataset', 'RGBDClassificationDataset', 'DEMO_CLS_CLASSES',
    'generate_demo_cls_dataset', 'render_object_view',
]
