"""Every registered head: built from a config, output shape on odd-sized features, loss and gradients."""
import numpy as np
import pytest
from head_test_utils import (
    FEATURE_CHANNELS,
    FEATURE_SIZES,
    NUM_CLASSES,
    check_gradients_reach_parameters,
    make_features,
    make_labels,
    total_loss,
)

from dformer_seg.models.decode_heads.deeplabv3plus_head import DeepLabV3Plus  # noqa: F401  (registers)
from dformer_seg.models.decode_heads.fcn_head import FCNHead  # noqa: F401
from dformer_seg.models.decode_heads.ham_head import LightHamHead  # noqa: F401
from dformer_seg.models.decode_heads.mlp_decoder import MLPDecoder  # noqa: F401
from dformer_seg.models.decode_heads.nl_head import NLHead  # noqa: F401
from dformer_seg.models.decode_heads.uper_head import UPerHead  # noqa: F401
from dformer_seg.registry import HEADS

C = FEATURE_CHANNELS
HEAD_CONFIGS = {
    'FCNHead': (dict(type='FCNHead', in_channels=C[2], in_index=2, channels=8), 2),
    'MLPDecoder': (dict(type='MLPDecoder', in_channels=C, in_index=[0, 1, 2, 3], channels=8), 0),
    'UPerHead': (dict(type='UPerHead', in_channels=C, in_index=[0, 1, 2, 3], channels=8), 0),
    'DeepLabV3Plus': (dict(type='DeepLabV3Plus', in_channels=[C[0], C[3]], in_index=[0, 3], channels=8,
                           c1_channels=4), 0),
    'NLHead': (dict(type='NLHead', in_channels=C[1:], in_index=[1, 2, 3], channels=8), 1),
    'LightHamHead': (dict(type='LightHamHead', in_channels=C[1:], in_index=[1, 2, 3], channels=8, ham_channels=16,
                          ham_kwargs=dict(MD_R=4)), 1),
}


def build(name):
    cfg, out_level = HEAD_CONFIGS[name]
    head = HEADS.build(dict(cfg, num_classes=NUM_CLASSES, norm_cfg=dict(type='BN', eps=1e-3)))
    return head, FEATURE_SIZES[out_level]


@pytest.mark.parametrize('name', sorted(HEAD_CONFIGS))
def test_output_shape_in_eval(name):
    head, size = build(name)
    head.eval()
    out = head(make_features())
    assert tuple(out.shape) == (2, NUM_CLASSES) + size
    assert np.all(np.isfinite(out.numpy()))


@pytest.mark.parametrize('name', sorted(HEAD_CONFIGS))
def test_loss_is_finite_and_gradients_reach_the_head(name):
    head, _ = build(name)
    head.train()
    logits = head(make_features())
    losses = head.loss(logits, make_labels())
    assert set(losses) == {'loss_ce', 'acc_seg'}
    value = losses['loss_ce'].item()
    assert np.isfinite(value) and value > 0
    assert 0.0 <= losses['acc_seg'].item() <= 100.0
    check_gradients_reach_parameters(head, total_loss(losses))


def seq(prefix, index, bias=True, norm=True):
    keys = {f'{prefix}.{index}.weight'} | ({f'{prefix}.{index}.bias'} if bias else set())
    if norm:
        keys |= {f'{prefix}.{index + 1}.{p}' for p in ('weight', 'bias', 'running_mean', 'running_var')}
    return keys


def test_state_dict_names_follow_the_official_heads():
    fcn, _ = build('FCNHead')
    assert set(fcn.state_dict()) == seq('conv', 0) | {'classifier.weight', 'classifier.bias'}

    mlp, _ = build('MLPDecoder')
    expected = {f'linear_c{i}.proj.{p}' for i in range(1, 5) for p in ('weight', 'bias')}
    expected |= seq('linear_fuse', 0) | {'linear_pred.weight', 'linear_pred.bias'}
    assert set(mlp.state_dict()) == expected

    uper, _ = build('UPerHead')
    expected = set().union(*[seq(f'psp_modules.{i}', 1) for i in range(4)])
    expected |= seq('bottleneck', 0) | seq('fpn_bottleneck', 0) | {'conv_seg.weight', 'conv_seg.bias'}
    for i in range(3):
        expected |= seq(f'lateral_convs.{i}', 0) | seq(f'fpn_convs.{i}', 0)
    assert set(uper.state_dict()) == expected

    deeplab, _ = build('DeepLabV3Plus')
    expected = seq('aspp.b0', 0, bias=False) | seq('aspp.b4.gap', 1, bias=False) | seq('aspp.project', 0, bias=False)
    for i in (1, 2, 3):
        expected |= seq(f'aspp.b{i}.block', 0, bias=False)
    expected |= seq('low_level', 0) | seq('block', 0) | {'block.4.weight', 'block.4.bias'}
    assert set(deeplab.state_dict()) == expected

    nl, _ = build('NLHead')
    bn = ('weight', 'bias', 'running_mean', 'running_var')
    expected = {'squeeze.conv.weight', 'align.conv.weight', 'nl_block.conv_out.conv.weight',
                'conv_seg.weight', 'conv_seg.bias'}
    expected |= {f'{m}.bn.{p}' for m in ('squeeze', 'align', 'nl_block.conv_out') for p in bn}
    expected |= {f'nl_block.{m}.conv.{p}' for m in ('g', 'theta', 'phi') for p in ('weight', 'bias')}
    assert set(nl.state_dict()) == expected


def test_official_defaults_and_head_specific_errors():
    fcn = HEADS.build(dict(type='FCNHead', in_channels=32, num_classes=3))
    assert fcn.channels == 8 and fcn.dropout is None and fcn.in_index == -1
    two_convs = HEADS.build(dict(type='FCNHead', in_channels=8, channels=4, num_convs=2, num_classes=3))
    assert tuple(two_convs.state_dict()['conv.3.weight'].shape) == (4, 4, 3, 3)
    assert HEADS.get('DeepLabV3PlusHead') is HEADS.get('DeepLabV3Plus')
    with pytest.raises(TypeError, match='int'):
        HEADS.build(dict(type='FCNHead', in_channels=[8, 16], num_classes=3))
    with pytest.raises(ValueError, match='two features'):
        HEADS.build(dict(type='DeepLabV3Plus', in_channels=C, in_index=[0, 1, 2, 3], num_classes=3))
    with pytest.raises(ValueError, match='mode'):
        HEADS.build(dict(type='NLHead', in_channels=C[1:], in_index=[1, 2, 3], channels=8, num_classes=3,
                         mode='gaussian'))
    with pytest.raises(ValueError, match='multiple_select'):
        HEADS.build(dict(type='UPerHead', in_channels=C, in_index=[0, 1, 2, 3], channels=8, num_classes=3,
                         input_transform='resize_concat'))
