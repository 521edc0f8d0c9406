import jittor as jt
import numpy as np
import pytest

from dformer_seg.engine.optim import (
    AdamW,
    DynamicLossScaler,
    build_optimizer,
    load_optimizer_state_dict,
    optimizer_state_dict,
)
from dformer_seg.ops import kernels

from toy import ToySegmentor

ADAMW = dict(optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.05))


def groups_by_name(optimizer):
    return {name: (g['lr'], g['weight_decay']) for g in optimizer.param_groups for name in g['names']}


def test_norm_weights_and_all_biases_get_no_weight_decay():
    model = ToySegmentor()
    optimizer = build_optimizer(model, dict(ADAMW, paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)))
    groups = groups_by_name(optimizer)
    assert groups == {
        'conv.weight': (0.01, 0.05), 'cls.weight': (0.01, 0.05),
        'conv.bias': (0.01, 0.0), 'cls.bias': (0.01, 0.0), 'norm.weight': (0.01, 0.0), 'norm.bias': (0.01, 0.0)}
    assert len(optimizer.param_groups) == 2
    assert 'norm.running_mean' not in groups  # buffers are not optimized


def test_without_paramwise_cfg_everything_decays_and_custom_keys_scale_lr():
    model = ToySegmentor()
    assert {wd for _, wd in groups_by_name(build_optimizer(model, ADAMW)).values()} == {0.05}
    optimizer = build_optimizer(model, dict(ADAMW, paramwise_cfg=dict(
        bias_decay_mult=0.0, custom_keys={'cls': dict(lr_mult=0.1, decay_mult=2.0)})))
    groups = groups_by_name(optimizer)
    assert groups['cls.weight'] == pytest.approx((0.001, 0.1))
    assert groups['cls.bias'] == pytest.approx((0.001, 0.1))  # the custom key wins over bias_decay_mult
    assert groups['conv.bias'] == (0.01, 0.0)
    assert all(g['initial_lr'] == g['lr'] for g in optimizer.param_groups)


def test_unknown_paramwise_key_and_missing_lr_are_errors():
    with pytest.raises(KeyError, match='norm_decay'):
        build_optimizer(ToySegmentor(), dict(ADAMW, paramwise_cfg=dict(norm_decay=0.0)))
    with pytest.raises(KeyError, match='lr'):
        build_optimizer(ToySegmentor(), dict(optimizer=dict(type='AdamW')))


def _one_step(model, optimizer):
    x = jt.array(np.random.RandomState(0).randn(2, 3, 6, 6).astype(np.float32))
    d = jt.array(np.random.RandomState(1).randn(2, 1, 6, 6).astype(np.float32))
    optimizer.step(model.encode_decode(x, d).sqr().mean())


def test_adamw_is_jittors_adamw_with_a_kernel_update():
    def train(optimizer_class):
        jt.set_global_seed(0)
        # No BatchNorm: the conv bias before it would get a gradient of pure rounding noise, which Adam amplifies.
        model = ToySegmentor(norm=False)
        optimizer = optimizer_class(model.parameters(), lr=0.01, weight_decay=0.05)
        rng = np.random.default_rng(3)
        img, depth = (jt.array(rng.standard_normal((2, c, 8, 8)).astype(np.float32)) for c in (3, 1))
        for _ in range(3):
            optimizer.step((model.encode_decode(img, depth) ** 2).mean())
        return {name: p.numpy() for name, p in model.named_parameters()}, optimizer

    assert isinstance(build_optimizer(ToySegmentor(), ADAMW), AdamW)
    before = kernels.kernel_builds['adamw_step']
    ours, optimizer = train(AdamW)
    assert kernels.kernel_builds['adamw_step'] > before
    reference, reference_optimizer = train(jt.optim.AdamW)
    for name in reference:
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-5, atol=1e-7, err_msg=name)
    for slot in ('values', 'm'):
        for mine, theirs in zip(optimizer.param_groups[0][slot], reference_optimizer.param_groups[0][slot]):
            np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-9)


def test_optimizer_state_round_trip_by_parameter_name():
    model = ToySegmentor()
    optimizer = build_optimizer(model, ADAMW)
    _one_step(model, optimizer)
    saved = optimizer_state_dict(optimizer)
    assert saved['n_step'] == 1 and saved['type'] == 'AdamW'
    assert set(saved['state']) >= {'m/conv.weight', 'values/cls.bias'}

    fresh = build_optimizer(model, ADAMW)
    load_optimizer_state_dict(fresh, saved)
    assert fresh.n_step == 1
    restored = optimizer_state_dict(fresh)
    for key, value in saved['state'].items():
        np.testing.assert_array_equal(restored['state'][key], value)

    sgd = build_optimizer(model, dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
    with pytest.raises(ValueError, match='same optimizer'):
        load_optimizer_state_dict(sgd, saved)
    broken = dict(saved, state={k: v for k, v in saved['state'].items() if k != 'm/conv.weight'})
    with pytest.raises(KeyError, match='conv.weight'):
        load_optimizer_state_dict(fresh, broken)


def test_loss_scaler_unscales_and_detects_overflow():
    w = jt.array(np.array([1.0, 2.0], dtype=np.float32))
    optimizer = jt.optim.SGD([w], lr=0.1)
    scaler = DynamicLossScaler(init_scale=1024.0, growth_interval=2)
    optimizer.backward((w * jt.array(np.array([3.0, 4.0], dtype=np.float32))).sum() * scaler.scale)
    assert scaler.unscale_and_check(optimizer)
    np.testing.assert_allclose(optimizer.param_groups[0]['grads'][0].numpy(), [3.0, 4.0])
    scaler.update(True)
    scaler.update(True)
    assert scaler.scale == 2048.0
    optimizer.zero_grad()
    optimizer.backward((w * jt.array(np.array([np.inf, 1.0], dtype=np.float32))).sum())
    assert not scaler.unscale_and_check(optimizer)
    scaler.update(False)
    assert scaler.scale == 1024.0
