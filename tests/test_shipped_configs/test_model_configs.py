"""The model configs: official state-dict names and shapes, and the official training/eval recipes."""
import os

import pytest

from dformer_seg.config import Config
from dformer_seg.models.segmentors.encoder_decoder import _check_test_cfg
from dformer_seg.registry import SEGMENTORS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYS_DIR = os.path.join(REPO, 'tests', 'fixtures', 'checkpoint-keys')

# config stem -> (checkpoint key list, backbone variant)
VARIANTS = {
    'dformer/dformer_tiny': ('DFormer-Tiny', 'tiny'),
    'dformer/dformer_small': ('DFormer-Small', 'small'),
    'dformer/dformer_base': ('DFormer-Base', 'base'),
    'dformer/dformer_large': ('DFormer-Large', 'large'),
    'dformerv2/dformerv2_s': ('DFormerv2_S', 'S'),
    'dformerv2/dformerv2_b': ('DFormerv2_B', 'B'),
    'dformerv2/dformerv2_l': ('DFormerv2_L', 'L'),
}
# Values of the official local_configs/{NYUDepthv2,SUNRGBD}/*.py:
# (lr, batch size, epochs, drop_path_rate, decoder channels)
RECIPES = {
    ('dformer/dformer_tiny', 'nyu'): (6e-5, 8, 500, 0.1, 512),
    ('dformer/dformer_small', 'nyu'): (6e-5, 8, 500, 0.1, 512),
    ('dformer/dformer_base', 'nyu'): (6e-5, 8, 500, 0.1, 512),
    ('dformer/dformer_large', 'nyu'): (6e-5, 8, 500, 0.15, 512),
    ('dformerv2/dformerv2_s', 'nyu'): (6e-5, 16, 500, 0.25, 512),
    ('dformerv2/dformerv2_b', 'nyu'): (6e-5, 8, 500, 0.2, 512),
    ('dformerv2/dformerv2_l', 'nyu'): (6e-5, 12, 500, 0.3, 1024),
    ('dformer/dformer_tiny', 'sunrgbd'): (8e-5, 16, 300, 0.1, 512),
    ('dformer/dformer_small', 'sunrgbd'): (8e-5, 16, 300, 0.1, 512),
    ('dformer/dformer_base', 'sunrgbd'): (8e-5, 16, 300, 0.1, 512),
    ('dformer/dformer_large', 'sunrgbd'): (8e-5, 16, 300, 0.2, 512),
    ('dformerv2/dformerv2_s', 'sunrgbd'): (8e-5, 16, 300, 0.1, 1024),
    ('dformerv2/dformerv2_b', 'sunrgbd'): (8e-5, 16, 300, 0.1, 1024),
    ('dformerv2/dformerv2_l', 'sunrgbd'): (8e-5, 16, 300, 0.27, 1024),
}
DATASETS = {'nyu': (40, 'NYUDepthV2Dataset', (480, 640), (320, 426)),
            'sunrgbd': (37, 'SUNRGBDDataset', (480, 480), (320, 320))}


def config_path(stem, dataset):
    return os.path.join(REPO, 'configs', f'{stem}_{dataset}.py')


def read_keys(name):
    with open(os.path.join(KEYS_DIR, f'{name}.tsv')) as f:
        header = f.readline().rstrip('\n').split('\t')
        rows = [dict(zip(header, line.rstrip('\n').split('\t'))) for line in f]
    return {row['key']: tuple(int(s) for s in row['shape'].split(',')) if row['shape'] else ()
            for row in rows if not row['key'].endswith('num_batches_tracked')}


def build_model(cfg):
    model_cfg = cfg.to_dict()['model']
    model_cfg['pretrained'] = None  # the ImageNet weights are not part of the repository
    return SEGMENTORS.build(model_cfg)


@pytest.mark.parametrize('stem', sorted(VARIANTS))
def test_nyu_models_have_the_official_state_dict(stem):
    expected = read_keys(VARIANTS[stem][0])
    model = build_model(Config.fromfile(config_path(stem, 'nyu')))
    actual = {k: tuple(int(s) for s in v.shape) for k, v in model.state_dict().items()}
    assert set(actual) == set(expected), (sorted(set(expected) - set(actual))[:10],
                                          sorted(set(actual) - set(expected))[:10])
    wrong = {k: (actual[k], v) for k, v in expected.items() if actual[k] != v}
    assert not wrong, wrong


@pytest.mark.parametrize('stem, dataset', sorted(RECIPES))
def test_recipe(stem, dataset):
    lr, batch_size, epochs, drop_path_rate, channels = RECIPES[(stem, dataset)]
    num_classes, dataset_type, crop, stride = DATASETS[dataset]
    cfg = Config.fromfile(config_path(stem, dataset))
    model = cfg.model
    assert model.type == 'RGBDEncoderDecoder'
    assert model.backbone.arch == VARIANTS[stem][1]
    assert model.backbone.drop_path_rate == drop_path_rate
    assert model.decode_head.channels == channels and model.decode_head.ham_channels == 512
    assert model.decode_head.num_classes == num_classes
    assert model.decode_head.norm_cfg.eps == 1e-3
    assert model.backbone.norm_cfg.get('eps', 1e-5) == 1e-5
    assert model.auxiliary_head is None
    assert model.pretrained.startswith('checkpoints/pretrained/')
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == lr and cfg.optim_wrapper.optimizer.weight_decay == 0.01
    assert cfg.train_dataloader.batch_size == batch_size
    assert cfg.train_loop.max_epochs == epochs
    assert cfg.param_scheduler.type == 'WarmupPolyLR'
    assert cfg.param_scheduler.warmup_epochs == 10 and cfg.param_scheduler.power == 0.9
    assert cfg.test_dataloader.dataset.type == dataset_type
    assert tuple(model.test_cfg.crop_size) == crop and tuple(model.test_cfg.stride) == stride
    assert list(cfg.tta_cfg.scales) == [0.5, 0.75, 1.0, 1.25, 1.5] and cfg.tta_cfg.flip
    # The inference settings are valid for the segmentor, with and without the TTA of tools/test.py --tta.
    _check_test_cfg(model.test_cfg.to_dict())
    _check_test_cfg(dict(model.test_cfg.to_dict(), aug=cfg.tta_cfg.to_dict()))


@pytest.mark.parametrize('stem', sorted(VARIANTS))
def test_sunrgbd_models_build(stem):
    model = build_model(Config.fromfile(config_path(stem, 'sunrgbd')))
    assert tuple(model.decode_head.conv_seg.weight.shape)[:1] == (37,)


@pytest.mark.parametrize('stem', [s for s in VARIANTS if s.startswith('dformerv2/')])
def test_dformerv2_sunrgbd_reads_rgb_and_pads_test_images(stem):
    cfg = Config.fromfile(config_path(stem, 'sunrgbd'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader].dataset.pipeline
        assert pipeline[0].type == 'LoadImageFromFile' and pipeline[0].color_order == 'rgb', loader
    test_types = [step.type for step in cfg.test_dataloader.dataset.pipeline]
    assert test_types.index('Pad') < test_types.index('Normalize') < test_types.index('LoadAnnotations')
    pad = cfg.test_dataloader.dataset.pipeline[test_types.index('Pad')]
    assert tuple(pad.size) == (531, 730) and pad.get('position', 'bottom_right') == 'bottom_right'


@pytest.mark.parametrize('stem', [s for s in VARIANTS if s.startswith('dformer/')])
def test_dformer_v1_sunrgbd_keeps_bgr(stem):
    cfg = Config.fromfile(config_path(stem, 'sunrgbd'))
    assert cfg.test_dataloader.dataset.pipeline[0].color_order == 'bgr'
