"""DFormer (v1) backbone: checkpoint key names, parity with the official PyTorch outputs, behaviour."""

import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.backbones.dformer import (
    DFormer,
    DFormerBlock,
    _downsample,
    downsample_nhwc,
    pool_window_tokens,
    resample_nhwc,
)
from dformer_seg.models.utils import resize
from dformer_seg.registry import BACKBONES
from dformer_seg.utils.checkpoint import read_checkpoint

from parity_fixtures import (
    fixture_dir,
    generate_weights,
    load_config,
    load_npz,
    official_checkpoint_keys,
    write_official_pth,
)

PARITY_SIZES = ('96x128', '75x103')
# Acceptance bar: max abs error relative to the reference feature's value range.
RELATIVE_TOLERANCE = 1e-5
# A small variant for behaviour tests: every stage but the first has window attention.
TOY_SETTINGS = dict(dims=(8, 16, 32, 64), depths=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2),
                    num_heads=(1, 1, 2, 2), windows=(0, 7, 7, 7))


def official_backbone_keys(variant):
    """name -> shape of the ``backbone.*`` rows of an official checkpoint, prefix stripped."""
    return official_checkpoint_keys(f'DFormer-{variant}.tsv', prefix='backbone.')


def backbone_weights(state_dict):
    return {k[len('backbone.'):]: v for k, v in state_dict.items()
            if k.startswith('backbone.') and not k.endswith('num_batches_tracked')}


def load_exactly(model, weights):
    """Load name -> array into ``model`` after checking that names and shapes match one to one."""
    model_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(model_shapes) - set(weights))
    unexpected = sorted(set(weights) - set(model_shapes))
    mismatched = [k for k in weights if k in model_shapes and model_shapes[k] != tuple(weights[k].shape)]
    assert not missing and not unexpected and not mismatched, (missing[:5], unexpected[:5], mismatched[:5])
    model.load_parameters(weights)
    loaded = model.state_dict()
    for key, value in weights.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value, err_msg=key)


def assert_features_match(outs, expected, size):
    assert len(outs) == 4
    for i, out in enumerate(outs):
        reference = expected[f'feat{i}_{size}']
        out = out.numpy()
        assert out.shape == reference.shape, (i, out.shape, reference.shape)
        relative = np.abs(out - reference).max() / (reference.max() - reference.min())
        assert relative < RELATIVE_TOLERANCE, f'feat{i} at {size}: relative error {relative:.3g}'


@pytest.mark.parametrize('arch,variant', [('tiny', 'Tiny'), ('small', 'Small'), ('base', 'Base'),
                                          ('large', 'Large')])
def test_state_dict_matches_official_checkpoint(arch, variant):
    model = DFormer(arch=arch)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == official_backbone_keys(variant)


def test_mini_fixture_parity():
    path = fixture_dir('dformer_v1_mini')
    model = DFormer(**load_config(path)['backbone']['args'])
    load_exactly(model, backbone_weights(generate_weights(path)))
    model.eval()
    inputs, expected = load_npz(path, 'inputs.npz'), load_npz(path, 'expected.npz')
    for size in PARITY_SIZES:
        with jt.no_grad():
            outs = model(jt.array(inputs[f'rgb_{size}']), jt.array(inputs[f'depth_{size}']))
        assert_features_match(outs, expected, size)


def test_tiny_full_fixture_parity(tmp_path):
    """The real DFormer-Tiny (NYUDepthv2) architecture, its fixture weights read from an official-format .pth."""
    path = fixture_dir('dformer_tiny_full')
    pth = write_official_pth(str(tmp_path / 'weights.pth'), generate_weights(path))
    state_dict = read_checkpoint(pth)['state_dict']
    model = DFormer(arch='tiny')
    load_exactly(model, backbone_weights(state_dict))
    model.eval()
    inputs, expected = load_npz(path, 'inputs.npz'), load_npz(path, 'expected.npz')
    with jt.no_grad():
        outs = model(jt.array(inputs['rgb_96x128']), jt.array(inputs['depth_96x128']))
    assert_features_match(outs, expected, '96x128')


def _with_active_branches(model):
    """Raise the layer scales from 1e-6 so that the residual branches (and drop path) matter."""
    for name, var in model.state_dict().items():
        if 'layer_scale' in name:
            var.update(jt.full(var.shape, 0.5))
    return model


def test_odd_input_shapes_and_depth_channels():
    model = _with_active_branches(DFormer(**TOY_SETTINGS))
    model.eval()
    rng = np.random.default_rng(0)
    img = jt.array(rng.standard_normal((1, 3, 37, 53)).astype(np.float32))
    depth = rng.standard_normal((1, 3, 37, 53)).astype(np.float32)
    with jt.no_grad():
        outs = [o.numpy() for o in model(img, jt.array(depth))]
        # Only depth channel 0 is used: other channels change nothing, channel 0 does.
        single = [o.numpy() for o in model(img, jt.array(depth[:, :1]))]
        shifted = depth.copy()
        shifted[:, 0] += 1.0
        moved = [o.numpy() for o in model(img, jt.array(shifted))]
    # Stride-2 convs with padding 1 round up: 37x53 -> 19x27 -> 10x14 -> 5x7 -> 3x4.
    assert [o.shape for o in outs] == [(1, 8, 10, 14), (1, 16, 5, 7), (1, 32, 3, 4), (1, 64, 2, 2)]
    for a, b in zip(outs, single):
        np.testing.assert_array_equal(a, b)
    assert np.abs(moved[3] - outs[3]).max() > 1e-3

    subset = DFormer(**TOY_SETTINGS, out_indices=(1, 3))
    subset.load_parameters({k: v.numpy() for k, v in model.state_dict().items()})
    subset.eval()
    with jt.no_grad():
        picked = [o.numpy() for o in subset(img, jt.array(depth))]
    assert len(picked) == 2
    # Same weights, but Jittor fuses the smaller graph differently: equal up to float32 rounding.
    np.testing.assert_allclose(picked[0], outs[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(picked[1], outs[3], rtol=1e-5, atol=1e-6)


def _toy_pair(seed=1):
    rng = np.random.default_rng(seed)
    img = jt.array(rng.standard_normal((2, 3, 40, 56)).astype(np.float32))
    depth = jt.array(rng.standard_normal((2, 1, 40, 56)).astype(np.float32))
    return img, depth


def test_drop_path_training_and_eval():
    img, depth = _toy_pair()
    model = _with_active_branches(DFormer(**TOY_SETTINGS, drop_path_rate=0.5))
    model.train()
    first = model(img, depth)[3].numpy()
    second = model(img, depth)[3].numpy()
    assert np.abs(first - second).max() > 1e-4, 'drop path did not change the training forward pass'
    model.eval()
    with jt.no_grad():
        np.testing.assert_array_equal(model(img, depth)[3].numpy(), model(img, depth)[3].numpy())

    no_drop = _with_active_branches(DFormer(**TOY_SETTINGS, drop_path_rate=0.0))
    no_drop.train()
    np.testing.assert_array_equal(no_drop(img, depth)[3].numpy(), no_drop(img, depth)[3].numpy())


def test_backward_reaches_every_parameter():
    img, depth = _toy_pair()
    model = _with_active_branches(DFormer(**TOY_SETTINGS, drop_path_rate=0.0))
    model.train()
    loss = sum((out * out).mean() for out in model(img, depth))
    named = model.state_dict()
    trainable = {name: var for name, var in named.items() if var.requires_grad}
    assert all('running_' in name for name in set(named) - set(trainable))
    grads = jt.grad(loss, list(trainable.values()))
    for name, grad in zip(trainable, grads):
        grad = grad.numpy()
        assert np.isfinite(grad).all(), name
        assert np.abs(grad).max() > 0, f'no gradient for {name}'


def test_registry_and_bad_arguments():
    model = BACKBONES.build(dict(type='DFormer', arch='small', drop_path_rate=0.0))
    assert model.dims == (64, 128, 256, 512) and model.depths == (2, 2, 4, 2)
    # last_block keeps window attention only in the last N blocks of each stage.
    names = DFormer(**dict(TOY_SETTINGS, depths=(2, 2, 2, 2)), last_block=(1, 1, 1, 1)).state_dict()
    assert 'stages.1.0.attn.kv.weight' not in names and 'stages.1.1.attn.kv.weight' in names
    names = DFormer(**dict(TOY_SETTINGS, depths=(2, 2, 2, 2)), last_block=None).state_dict()
    assert 'stages.1.0.attn.kv.weight' in names and 'stages.0.0.attn.kv.weight' not in names
    with pytest.raises(KeyError, match='unknown DFormer arch'):
        DFormer(arch='huge')
    with pytest.raises(ValueError, match='needs'):
        DFormer(dims=(8, 16, 32, 64))
    with pytest.raises(ValueError, match='4 entries'):
        DFormer(arch='tiny', depths=(1, 1, 1))
    with pytest.raises(ValueError, match='out_indices'):
        DFormer(arch='tiny', out_indices=(4,))
    model = DFormer(**TOY_SETTINGS)
    img = jt.zeros((1, 3, 32, 32))
    with pytest.raises(ValueError, match='depth'):
        model(img, None)
    with pytest.raises(ValueError, match='differ'):
        model(img, jt.zeros((1, 1, 16, 32)))
    with pytest.raises(ValueError, match='img'):
        model(jt.zeros((1, 4, 32, 32)), jt.zeros((1, 1, 32, 32)))


def _reference_adaptive_pool(x, out_h, out_w):
    """PyTorch's adaptive average pooling of an NHWC array, bin by bin."""
    n, h, w, c = x.shape
    out = np.zeros((n, out_h, out_w, c), dtype=np.float64)
    for i in range(out_h):
        top, bottom = (i * h) // out_h, -((-(i + 1) * h) // out_h)
        for j in range(out_w):
            left, right = (j * w) // out_w, -((-(j + 1) * w) // out_w)
            out[:, i, j] = x[:, top:bottom, left:right].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize('height, width', [(14, 21), (10, 10), (3, 4)])  # (3, 4): smaller than the window
def test_window_pooling_on_channels_last_maps(height, width):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, height, width, 3)).astype(np.float32)
    x_e = rng.standard_normal((2, height, width, 2)).astype(np.float32)
    tokens = pool_window_tokens([jt.array(x), jt.array(x_e)], 7).numpy()
    expected = np.concatenate([_reference_adaptive_pool(x, 7, 7), _reference_adaptive_pool(x_e, 7, 7)], axis=3)
    np.testing.assert_allclose(tokens, expected.reshape(2, 49, 5), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('out_hw', [(30, 40), (3, 4), (7, 7)])
def test_bilinear_resampling_of_channels_last_maps_matches_resize(out_hw):
    x = np.random.default_rng(6).standard_normal((2, 7, 7, 3)).astype(np.float32)
    out = resample_nhwc('bilinear', jt.array(x), out_hw).numpy()
    expected = resize(jt.array(x.transpose(0, 3, 1, 2)), size=out_hw, mode='bilinear', align_corners=False)
    np.testing.assert_allclose(out, expected.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('norm_cfg', [dict(type='BN'), dict(type='GN', num_groups=2)])
def test_downsampling_on_channels_last_maps_equals_the_nchw_layers(norm_cfg):
    layers = _downsample(4, 6, norm_cfg)
    rng = np.random.default_rng(7)
    x = jt.array(rng.standard_normal((2, 9, 11, 4)).astype(np.float32))
    for training in (True, False):  # batch statistics, then the running ones
        layers.train() if training else layers.eval()
        with jt.no_grad():
            expected = layers(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
            out = downsample_nhwc(layers, x).numpy()
        assert out.shape == (2, 5, 6, 6)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('window, with_depth_output', [(7, True), (0, False)])
def test_block_equals_the_reference_composition_of_its_submodules(window, with_depth_output):
    """The fused residuals of DFormerBlock give the reference's Block.forward written with attn(x, x_e), mlp(x)."""
    block = DFormerBlock(8, 1, 2, window, drop_path=0.0, with_depth_output=with_depth_output)
    rng = np.random.default_rng(8)
    for name, var in block.state_dict().items():
        if 'layer_scale' in name:
            var.update(jt.array(rng.uniform(0.5, 1.5, var.shape).astype(np.float32)))
    block.eval()
    x = jt.array(rng.standard_normal((2, 9, 11, 8)).astype(np.float32))
    x_e = jt.array(rng.standard_normal((2, 9, 11, 4)).astype(np.float32))
    with jt.no_grad():
        out, out_e = block(x, x_e)
        attn_x, attn_e = block.attn(x, x_e)
        expected = x + block.layer_scale_1 * attn_x
        expected = expected + block.layer_scale_2 * block.mlp(expected)
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
        if not with_depth_output:
            assert out_e is None and attn_e is None
            return
        expected_e = x_e + block.layer_scale_1_e * attn_e
        expected_e = expected_e + block.layer_scale_2_e * block.mlp_e2(expected_e)
        np.testing.assert_allclose(out_e.numpy(), expected_e.numpy(), rtol=1e-5, atol=1e-5)
