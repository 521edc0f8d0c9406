"""Full-model parity with the official PyTorch DFormer / DFormerv2 (fixtures in tests/fixtures/parity).

The segmentor is built from the fixture's config.json (reduced models) or from
the real config (DFormer-Tiny), the fixture weights are loaded strictly, and the
NMF bases of the Hamburger are replaced by the fixture's raw uniforms, so that
``encode_decode`` must reproduce the reference logits.
"""
import os

import jittor as jt
import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.registry import SEGMENTORS
from dformer_seg.utils.checkpoint import load_state_dict

from parity_fixtures import fixture_dir, generate_weights, load_config, load_npz, write_official_pth

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOLERANCE = 1e-4


def segmentor_cfg_from_fixture(config):
    backbone_class = config['backbone']['class'].rsplit('.', 1)[-1]
    backbone = dict(type={'DFormer': 'DFormer', 'dformerv2': 'DFormerv2'}[backbone_class],
                    **config['backbone']['args'])
    head_args = dict(config['decode_head']['args'])
    head_args['norm_cfg'] = dict(head_args['norm_cfg'], eps=config['decode_head_bn_eps'])
    backbone['norm_cfg'] = dict(backbone['norm_cfg'], eps=config['backbone_bn_eps'])
    return dict(type='RGBDEncoderDecoder', backbone=backbone, decode_head=dict(type='LightHamHead', **head_args))


def use_fixture_bases(model, inputs):
    raw = inputs['nmf_bases_raw']

    def fixed_bases(B, S, D, R):
        assert (B * S, D, R) == raw.shape, 'the fixtures hold one image and one group'
        return jt.array(raw)

    model.decode_head.hamburger.ham._build_bases = fixed_bases


def sizes_of(expected):
    return sorted(key[len('logits_'):] for key in expected if key.startswith('logits_'))


def check_logits(model, inputs, expected):
    sizes = sizes_of(expected)
    assert sizes, 'fixture without logits'
    for size in sizes:
        img, depth = jt.array(inputs[f'rgb_{size}']), jt.array(inputs[f'depth_{size}'])
        with jt.no_grad():
            logits = model.encode_decode(img, depth).numpy()
        reference = expected[f'logits_{size}']
        assert logits.shape == reference.shape, size
        diff = np.abs(logits - reference).max()
        assert diff < TOLERANCE, f'{size}: logits differ from the reference by {diff:.3g}'
    return sizes


@pytest.mark.parametrize('name', ['dformer_v1_mini', 'dformer_v2_mini'])
def test_mini_segmentor_matches_reference(name):
    path = fixture_dir(name)
    model = SEGMENTORS.build(segmentor_cfg_from_fixture(load_config(path)))
    load_state_dict(model, generate_weights(path), strict=True)
    model.eval()
    inputs = load_npz(path, 'inputs.npz')
    use_fixture_bases(model, inputs)
    assert check_logits(model, inputs, load_npz(path, 'expected.npz')) == ['75x103', '96x128']


def test_full_tiny_through_init_model(tmp_path):
    """The NYU DFormer-Tiny config with the fixture weights as an official-format .pth."""
    path = fixture_dir('dformer_tiny_full')
    weights = write_official_pth(str(tmp_path / 'DFormer_Tiny.pth'), generate_weights(path))
    model = init_model(os.path.join(REPO, 'configs', 'dformer', 'dformer_tiny_nyu.py'), weights, device='cpu')
    assert not model.is_training()
    inputs = load_npz(path, 'inputs.npz')
    use_fixture_bases(model, inputs)
    check_logits(model, inputs, load_npz(path, 'expected.npz'))
