import numpy as np
import pytest

import jittor as jt

from dformer_seg.models.decode_heads.ham_head import NMF2D, LightHamHead
from dformer_seg.registry import HEADS
from parity_fixtures import fixture_dir, generate_weights, load_config, load_npz

SIZES = ('96x128', '75x103')


def build_fixture_head(name):
    path = fixture_dir(name)
    config = load_config(path)
    args = dict(config['decode_head']['args'])
    args['norm_cfg'] = dict(args['norm_cfg'], eps=config['decode_head_bn_eps'])
    head = HEADS.build(dict(type='LightHamHead', **args))
    prefix = 'decode_head.'
    weights = {k[len(prefix):]: v for k, v in generate_weights(path).items()
               if k.startswith(prefix) and not k.endswith('num_batches_tracked')}
    own = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert set(own) == set(weights), (sorted(set(own) - set(weights)), sorted(set(weights) - set(own)))
    for key, value in weights.items():
        assert own[key] == value.shape, key
    head.load_state_dict(weights)
    head.eval()
    return path, head


@pytest.mark.parametrize('name', ['dformer_v1_mini', 'dformer_v2_mini'])
def test_matches_reference_head_output(name):
    path, head = build_fixture_head(name)
    raw_bases = load_npz(path, 'inputs.npz')['nmf_bases_raw']
    requested = []

    def fixed_bases(B, S, D, R):
        requested.append((B, S, D, R))
        return jt.array(raw_bases)

    head.hamburger.ham._build_bases = fixed_bases
    expected = load_npz(path, 'expected.npz')
    for size in SIZES:
        feats = [jt.array(expected[f'feat{i}_{size}']) for i in range(4)]
        with jt.no_grad():
            out = head(feats).numpy()
        reference = expected[f'head_{size}']
        assert out.shape == reference.shape
        diff = np.abs(out - reference).max()
        print(f'{name} {size}: max abs diff {diff:.2e}')
        assert diff < 1e-4, f'{name} {size}: max abs diff {diff}'
    assert requested == [(1, 1, raw_bases.shape[1], raw_bases.shape[2])] * len(SIZES)
