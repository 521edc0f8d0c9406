"""tools/model_converters/dformer2jittor.py: official .pth -> native .pkl, optionally verified against a config."""
import os

import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.utils.checkpoint import read_checkpoint

from parity_fixtures import fixture_dir, generate_weights, load_config, write_official_pth
from script_loading import load_script

FIXTURE = fixture_dir('dformer_v1_mini')


def load_converter():
    return load_script(os.path.join('tools', 'model_converters', 'dformer2jittor.py'), 'dformer2jittor')


def write_fixture_config(path, num_classes=None):
    """A config file building the v1 mini fixture's model."""
    config = load_config(FIXTURE)
    head = dict(config['decode_head']['args'])
    head['norm_cfg'] = dict(head['norm_cfg'], eps=config['decode_head_bn_eps'])
    if num_classes is not None:
        head['num_classes'] = num_classes
    model = dict(type='RGBDEncoderDecoder', backbone=dict(type='DFormer', **config['backbone']['args']),
                 decode_head=dict(type='LightHamHead', **head))
    path.write_text(f'model = {model!r}\n')
    return str(path)


@pytest.fixture
def official_weights(tmp_path):
    """The fixture's weights as an official-format .pth (``{'model': state_dict}``, num_batches_tracked included)."""
    return write_official_pth(str(tmp_path / 'DFormer_mini.pth'), generate_weights(FIXTURE))


def test_round_trip(tmp_path, official_weights):
    converter = load_converter()
    dst = str(tmp_path / 'mini.pkl')
    config = write_fixture_config(tmp_path / 'mini_cfg.py')
    assert converter.main([official_weights, dst, '--config', config]) == 0

    converted = read_checkpoint(dst)
    expected = {k: v for k, v in generate_weights(FIXTURE).items() if not k.endswith('num_batches_tracked')}
    assert list(converted['state_dict']) == list(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(converted['state_dict'][key], value, err_msg=key)
    assert converted['meta']['source'] == os.path.abspath(official_weights)
    assert converted['meta']['config'] == os.path.abspath(config)

    # The native file loads strictly into the model of the config, like the original.
    model = init_model(config, dst, device='cpu')
    np.testing.assert_array_equal(model.decode_head.conv_seg.weight.numpy(),
                                  expected['decode_head.conv_seg.weight'])


def test_config_mismatch_fails_and_lists_offenders(tmp_path, official_weights, capsys):
    converter = load_converter()
    dst = tmp_path / 'never.pkl'
    config = write_fixture_config(tmp_path / 'other_cfg.py', num_classes=5)
    assert converter.main([official_weights, str(dst), '--config', config]) == 1
    error = capsys.readouterr().err
    assert 'conversion failed' in error
    assert 'decode_head.conv_seg.weight: model (5, 32, 1, 1), checkpoint (16, 32, 1, 1)' in error
    assert 'decode_head.conv_seg.bias' in error
    assert not dst.exists()


def test_missing_source_fails(tmp_path, capsys):
    converter = load_converter()
    assert converter.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'out.pkl')]) == 1
    assert 'nope.pth' in capsys.readouterr().err
