import os

import jittor as jt
import numpy as np
import pytest
from head_test_utils import make_features

from dformer_seg.models.decode_heads.ham_head import NMF2D, LightHamHead
from dformer_seg.registry import HEADS

from parity_fixtures import fixture_dir, generate_weights, load_config, load_npz

KEYS_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'checkpoint-keys')


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


@pytest.mark.parametrize('name', ['dformer_v1_mini', 'dformer_v2_mini', 'dformer_tiny_full'])
def test_matches_reference_head_output(name):
    path, head = build_fixture_head(name)
    raw_bases = load_npz(path, 'inputs.npz')['nmf_bases_raw']
    requested = []

    def fixed_bases(B, S, D, R):
        requested.append((B, S, D, R))
        return jt.array(raw_bases)

    head.hamburger.ham._build_bases = fixed_bases
    expected = load_npz(path, 'expected.npz')
    sizes = sorted(key[len('head_'):] for key in expected if key.startswith('head_'))
    assert sizes
    for size in sizes:
        feats = [jt.array(expected[f'feat{i}_{size}']) for i in range(4)]
        with jt.no_grad():
            out = head(feats).numpy()
        reference = expected[f'head_{size}']
        assert out.shape == reference.shape
        diff = np.abs(out - reference).max()
        assert diff < 1e-4, f'{name} {size}: max abs diff {diff}'
    assert requested == [(1, 1, raw_bases.shape[1], raw_bases.shape[2])] * len(sizes)


def test_tiny_head_has_the_official_checkpoint_keys():
    rows = [line.rstrip('\n').split('\t') for line in open(os.path.join(KEYS_DIR, 'DFormer-Tiny.tsv'))][1:]
    expected = {key[len('decode_head.'):]: tuple(int(s) for s in shape.split(',')) if shape else ()
                for key, shape, _ in rows
                if key.startswith('decode_head.') and not key.endswith('num_batches_tracked')}
    head = LightHamHead(in_channels=[64, 128, 256], in_index=[1, 2, 3], channels=512, num_classes=40,
                        norm_cfg=dict(type='BN', eps=1e-3))
    assert {k: tuple(v.shape) for k, v in head.state_dict().items()} == expected
    assert head.squeeze.bn.eps == 1e-3 and head.hamburger.ham_out.bn.eps == 1e-3


def small_head(**kwargs):
    args = dict(in_channels=[16, 24, 32], in_index=[1, 2, 3], channels=8, ham_channels=16, num_classes=5,
                norm_cfg=dict(type='BN'), ham_kwargs=dict(MD_R=4))
    args.update(kwargs)
    return LightHamHead(**args)


def test_nmf_defaults_and_ham_kwargs_spelling():
    nmf = LightHamHead(in_channels=[8, 8], in_index=[0, 1], channels=8, ham_channels=8, num_classes=2).hamburger.ham
    assert (nmf.S, nmf.R, nmf.train_steps, nmf.eval_steps, nmf.inv_t, nmf.rand_init) == (1, 64, 6, 7, 1, True)
    upper = NMF2D()
    lower = small_head(ham_kwargs=dict(md_s=2, md_r=3, train_steps=2, eval_steps=4)).hamburger.ham
    assert (lower.S, lower.R, lower.train_steps, lower.eval_steps) == (2, 3, 2, 4)
    assert upper.inv_t == 1  # the reference NMF ignores the configured inverse temperature
    with pytest.raises(KeyError, match='MD_X'):
        small_head(ham_kwargs=dict(MD_X=3))
    with pytest.raises(ValueError, match='md_r'):
        NMF2D(md_r=0)


def test_build_bases_contract_and_bad_override():
    nmf = NMF2D(md_s=2, md_r=3)
    raw = nmf._build_bases(2, 2, 5, 3)
    assert tuple(raw.shape) == (4, 5, 3)
    values = raw.numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    nmf.eval()
    nmf._build_bases = lambda B, S, D, R: jt.rand((B, D, R + 1))
    with pytest.raises(ValueError, match='_build_bases returned shape'):
        nmf(jt.rand((1, 4, 2, 3)))


def test_steps_follow_the_mode():
    nmf = NMF2D(md_r=3, train_steps=2, eval_steps=5)
    calls = []
    original = nmf.local_step

    def counting_step(x, bases, coef):
        calls.append(1)
        return original(x, bases, coef)

    nmf.local_step = counting_step
    x = jt.rand((1, 6, 2, 3))
    nmf.train()
    nmf(x)
    assert len(calls) == 2
    nmf.eval()
    nmf(x)
    assert len(calls) == 2 + 5


def test_nmf_matches_a_numpy_implementation_non_spatial_and_grouped():
    rng = np.random.default_rng(3)
    x = rng.random((2, 6, 3, 4)).astype(np.float32)
    raw = rng.random((4, 12, 3)).astype(np.float32)  # (B*S, D, R) with S=2, D=H*W=12 (non-spatial)
    nmf = NMF2D(spatial=False, md_s=2, md_r=3, eval_steps=3)
    nmf.eval()
    nmf._build_bases = lambda B, S, D, R: jt.array(raw)
    out = nmf(jt.array(x)).numpy()

    data = x.astype(np.float64).reshape(4, 3, 12).transpose(0, 2, 1)  # (B*S, D, N)
    bases = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    coef = data.transpose(0, 2, 1) @ bases
    coef = np.exp(coef - coef.max(-1, keepdims=True))
    coef /= coef.sum(-1, keepdims=True)
    for _ in range(3):
        coef = coef * (data.transpose(0, 2, 1) @ bases) / (coef @ (bases.transpose(0, 2, 1) @ bases) + 1e-6)
        bases = bases * (data @ coef) / (bases @ (coef.transpose(0, 2, 1) @ coef) + 1e-6)
    coef = coef * (data.transpose(0, 2, 1) @ bases) / (coef @ (bases.transpose(0, 2, 1) @ bases) + 1e-6)
    expected = (bases @ coef.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(2, 6, 3, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_seeded_evaluation_is_deterministic_and_batch_independent():
    feats = make_features(batch=2)
    head = small_head(nmf_seed=0)
    head.eval()
    first = head(feats).numpy()
    np.testing.assert_array_equal(first, head(feats).numpy())
    alone = head([f[1:2] for f in feats]).numpy()
    np.testing.assert_allclose(alone[0], first[1], atol=1e-6)

    head.hamburger.ham.bases_seed = 1
    assert np.abs(head(feats).numpy() - first).max() > 1e-6
    head.hamburger.ham.bases_seed = None
    assert np.abs(head(feats).numpy() - head(feats).numpy()).max() > 0


def test_fixed_bases_without_rand_init_are_reused():
    nmf = NMF2D(md_r=3, rand_init=False)
    nmf.eval()
    draws = []
    original = nmf._build_bases

    def recording(B, S, D, R):
        draws.append((B, S, D, R))
        return original(B, S, D, R)

    nmf._build_bases = recording
    x = jt.rand((2, 4, 3, 3))
    np.testing.assert_array_equal(nmf(x).numpy(), nmf(x).numpy())
    assert draws == [(1, 1, 4, 3)]
    assert nmf.state_dict() == {}


def test_input_errors():
    head = small_head()
    with pytest.raises(TypeError, match='list of backbone features'):
        head(make_features()[1])
    with pytest.raises(IndexError, match='in_index 3'):
        head(make_features()[:3])
    with pytest.raises(ValueError, match='multiple_select'):
        small_head(input_transform='resize_concat')
    with pytest.raises(ValueError, match='groups'):
        NMF2D(md_s=3)(jt.rand((1, 4, 2, 2)))
