"""DFormerv2 backbone: checkpoint key names, parity with the official PyTorch outputs, behaviour."""

import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.backbones.dformerv2 import DFormerv2
from dformer_seg.registry import BACKBONES
from dformer_seg.utils.checkpoint import load_state_dict

from parity_fixtures import fixture_dir, generate_weights, load_config, load_npz, official_checkpoint_keys

PARITY_SIZES = ('96x128', '75x103')
# Acceptance bar: max abs error relative to the reference feature's value range.
RELATIVE_TOLERANCE = 1e-5
# A small variant for behaviour tests; head size 8 keeps the rotary pairs even.
TOY_SETTINGS = dict(embed_dims=[16, 32, 48, 64], depths=[1, 1, 1, 1], num_heads=[2, 4, 6, 8],
                    heads_ranges=[4, 4, 6, 6], mlp_ratios=[2, 2, 2, 2], layerscales=[False, False, True, True])
ODD_SIZE = (37, 45)  # -> 10x12, 5x6, 3x3, 2x2 after the ceil-rounding stride-2 convs


def official_backbone_keys(variant):
    """name -> shape of the ``backbone.*`` rows of an official checkpoint, prefix stripped."""
    return official_checkpoint_keys(f'DFormerv2_{variant}.tsv', prefix='backbone.')


def backbone_weights(state_dict):
    """The ``backbone.*`` entries, prefix stripped (``num_batches_tracked`` kept: the loader drops it)."""
    return {k[len('backbone.'):]: v for k, v in state_dict.items() if k.startswith('backbone.')}


def load_exactly(model, weights):
    """Load with the project's strict loader (any missing/unexpected/mis-shaped key raises), then verify."""
    missing, unexpected, mismatched = load_state_dict(model, weights, strict=True)
    assert (missing, unexpected, mismatched) == ([], [], [])
    loaded = model.state_dict()
    for key, value in weights.items():
        if not key.endswith('num_batches_tracked'):
            np.testing.assert_array_equal(loaded[key].numpy(), value, err_msg=key)


def toy_inputs(batch=1, size=ODD_SIZE, depth_channels=3, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.standard_normal((batch, 3) + size).astype(np.float32)
    depth = rng.standard_normal((batch, depth_channels) + size).astype(np.float32)
    return jt.array(img), jt.array(depth)


@pytest.fixture(scope='module')
def mini_fixture():
    path = fixture_dir('dformer_v2_mini')
    return dict(args=load_config(path)['backbone']['args'], weights=backbone_weights(generate_weights(path)),
                inputs=load_npz(path, 'inputs.npz'), expected=load_npz(path, 'expected.npz'))


def test_parity_with_reference_features(mini_fixture):
    model = DFormerv2(**mini_fixture['args'])
    load_exactly(model, mini_fixture['weights'])
    model.eval()
    for size in PARITY_SIZES:
        with jt.no_grad():
            outs = model(jt.array(mini_fixture['inputs'][f'rgb_{size}']),
                         jt.array(mini_fixture['inputs'][f'depth_{size}']))
        assert len(outs) == 4
        for i, out in enumerate(outs):
            reference = mini_fixture['expected'][f'feat{i}_{size}']
            out = out.numpy()
            assert out.shape == reference.shape, (size, i, out.shape, reference.shape)
            relative = np.abs(out - reference).max() / (reference.max() - reference.min())
            assert relative < RELATIVE_TOLERANCE, f'feat{i} at {size}: relative error {relative:.3g}'
    # The geometry buffers keep the checkpoint's values (they are not recomputed) and stay frozen.
    state = model.state_dict()
    for key in (k for k in mini_fixture['weights'] if k.endswith(('Geo.angle', 'Geo.decay'))):
        np.testing.assert_array_equal(state[key].numpy(), mini_fixture['weights'][key], err_msg=key)
        assert state[key].is_stop_grad(), key


def test_geometry_buffers_computed_at_init_match_reference(mini_fixture):
    """Without a checkpoint, angle/decay are computed like the reference (to a few float32 ulps)."""
    state = DFormerv2(**mini_fixture['args']).state_dict()
    buffer_keys = [k for k in mini_fixture['weights'] if k.endswith(('Geo.angle', 'Geo.decay'))]
    assert len(buffer_keys) == 2 * sum(mini_fixture['args']['depths'])
    for key in buffer_keys:
        value = state[key].numpy()
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, mini_fixture['weights'][key], rtol=1e-6, atol=0, err_msg=key)


@pytest.mark.parametrize('arch', ['S', 'B', 'L'])
def test_state_dict_matches_official_checkpoint(arch):
    model = BACKBONES.build(dict(type='DFormerv2', arch=arch))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = official_backbone_keys(arch)
    assert sorted(set(expected) - set(shapes)) == []
    assert sorted(set(shapes) - set(expected)) == []
    assert {k: v for k, v in shapes.items() if v != expected[k]} == {}


def test_invalid_settings_raise_clear_errors():
    with pytest.raises(KeyError, match='unknown arch'):
        DFormerv2(arch='XL')
    with pytest.raises(ValueError, match='depths'):
        DFormerv2(embed_dims=[16, 32, 48, 64], num_heads=[2, 4, 6, 8], heads_ranges=[4, 4, 6, 6])
    with pytest.raises(ValueError, match='one value per stage'):
        DFormerv2(**dict(TOY_SETTINGS, depths=[1, 1, 1]))
    with pytest.raises(ValueError, match='even size'):
        DFormerv2(**dict(TOY_SETTINGS, num_heads=[2, 4, 16, 8]))  # 48 / 16 heads: odd head size 3
    with pytest.raises(ValueError, match='even size'):
        DFormerv2(**dict(TOY_SETTINGS, num_heads=[2, 4, 5, 8]))  # 48 does not split into 5 heads
    with pytest.raises(ValueError, match='out_indices'):
        DFormerv2(**TOY_SETTINGS, out_indices=(0, 4))
    model = DFormerv2(**TOY_SETTINGS)
    with pytest.raises(ValueError, match='differ'):
        model(jt.zeros((1, 3, 32, 32)), jt.zeros((1, 1, 32, 40)))


def test_odd_input_size_and_depth_channels():
    model = DFormerv2(**TOY_SETTINGS)
    model.eval()
    img, depth = toy_inputs(size=ODD_SIZE, depth_channels=3)
    with jt.no_grad():
        outs = [o.numpy() for o in model(img, depth)]
        single_channel = [o.numpy() for o in model(img, depth[:, :1])]
    assert [o.shape for o in outs] == [(1, 16, 10, 12), (1, 32, 5, 6), (1, 48, 3, 3), (1, 64, 2, 2)]
    for three, one in zip(outs, single_channel):  # only depth channel 0 is used
        np.testing.assert_array_equal(three, one)

    model.out_indices = (1, 3)
    with jt.no_grad():
        picked = [o.numpy() for o in model(img, depth)]
    assert len(picked) == 2
    np.testing.assert_array_equal(picked[0], outs[1])
    np.testing.assert_array_equal(picked[1], outs[3])


def test_drop_path_in_training_only():
    jt.set_global_seed(0)
    model = DFormerv2(**TOY_SETTINGS, drop_path_rate=0.5)
    rates = [block.drop_path.drop_prob for stage in model.layers for block in stage.blocks]
    np.testing.assert_allclose(rates, np.linspace(0.0, 0.5, 4))
    img, depth = toy_inputs(batch=2, seed=1)

    model.train()
    runs = []
    for _ in range(4):
        runs.append(model(img, depth)[3].numpy())
    # Stochastic depth drops whole residual branches at random, so repeated passes differ.
    assert any(not np.array_equal(runs[0], other) for other in runs[1:])

    model.eval()
    with jt.no_grad():
        first, second = model(img, depth)[3].numpy(), model(img, depth)[3].numpy()
    np.testing.assert_array_equal(first, second)


def test_backward_trains_everything_but_geometry_buffers():
    model = DFormerv2(**TOY_SETTINGS, drop_path_rate=0.0)
    model.eval()  # Jittor's eval() stops every gradient and train() restores them: the buffers must stay frozen
    model.train()
    img, depth = toy_inputs(batch=2, seed=2)
    buffers = {name: var for name, var in model.state_dict().items() if name.endswith(('Geo.angle', 'Geo.decay'))}
    assert len(buffers) == 8 and all(var.is_stop_grad() for var in buffers.values())
    before = {name: var.numpy().copy() for name, var in buffers.items()}

    trainable = {name: var for name, var in model.state_dict().items() if not var.is_stop_grad()}
    assert not set(trainable) & set(buffers)
    assert 'layers.0.blocks.0.Geo.weight' in trainable and 'layers.3.blocks.0.gamma_1' in trainable
    loss = sum((out * out).mean() for out in model(img, depth))
    grads = jt.grad(loss, list(trainable.values()))
    for (name, _), grad in zip(trainable.items(), grads):
        grad = grad.numpy()
        assert np.isfinite(grad).all() and np.abs(grad).max() > 0, name

    optimizer = jt.optim.AdamW(model.parameters(), lr=1e-3)
    query_weight = model.layers[0].blocks[0].Attention.q_proj.weight.numpy().copy()
    optimizer.step(sum((out * out).mean() for out in model(img, depth)))
    assert not np.array_equal(model.layers[0].blocks[0].Attention.q_proj.weight.numpy(), query_weight)
    for name, var in buffers.items():
        np.testing.assert_array_equal(var.numpy(), before[name], err_msg=name)


def test_norm_eval_freezes_only_batchnorm_statistics():
    model = DFormerv2(**TOY_SETTINGS, norm_eval=True)
    model.train()
    stem_bn = model.patch_embed.proj[1]
    assert not stem_bn.is_training() and model.layers[0].blocks[0].is_training()
    assert not stem_bn.weight.is_stop_grad()
