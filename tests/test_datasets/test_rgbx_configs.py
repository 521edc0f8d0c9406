"""The model configs of the RGB-X data sets: each builds, and its head has the data set's class count."""
import os

import pytest

from dformer_seg import models as _models  # noqa: F401  (registers the segmentors)
from dformer_seg.config import Config
from dformer_seg.datasets.pipelines import Compose
from dformer_seg.registry import DATASETS, SEGMENTORS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = {
    'dformer/dformer_tiny_mfnet.py': ('MFNetDataset', 9, 'tiny'),
    'dformer/dformer_tiny_scannetv2.py': ('ScanNetV2Dataset', 20, 'tiny'),
    'dformer/dformer_tiny_cityscapes_rgbd.py': ('CityscapesRGBDDataset', 19, 'tiny'),
    'dformerv2/dformerv2_s_stanford2d3ds.py': ('Stanford2D3DSDataset', 13, 'S'),
}


@pytest.mark.parametrize('path', sorted(CONFIGS))
def test_config_builds_with_the_data_set_class_count(path):
    dataset_type, num_classes, arch = CONFIGS[path]
    cfg = Config.fromfile(os.path.join(REPO, 'configs', path))
    assert cfg.model.decode_head.num_classes == num_classes == len(DATASETS.get(dataset_type).CLASSES)
    plain = cfg.to_dict()
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert plain[loader]['dataset']['type'] == dataset_type
        assert Compose(plain[loader]['dataset']['pipeline']).find('LoadDepthFromFile') is not None
    assert cfg.train_loop.val_begin < cfg.train_loop.max_epochs and cfg.model.backbone.arch == arch
    plain['model']['pretrained'] = None
    model = SEGMENTORS.build(plain['model'])
    assert model.decode_head.conv_seg.weight.shape[0] == num_classes
