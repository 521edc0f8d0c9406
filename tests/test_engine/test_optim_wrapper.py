import logging
import pickle

import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg.engine.optim import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from dformer_seg.registry import OPTIM_WRAPPERS

SGD = dict(type='SGD', lr=0.1, momentum=0.9)
ADAMW = dict(type='AdamW', lr=0.01, weight_decay=0.01)

# Inputs and targets of 6 samples; batches are slices of them.
X = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0], [2.0, 1.0, 1.0],
              [-0.5, 0.4, 0.2], [1.5, -1.0, 0.0], [0.2, 0.2, 2.0]], dtype=np.float32)
Y = np.array([[1.0], [-1.0], [0.5], [2.0], [0.0], [1.0]], dtype=np.float32)


def linear():
    """The same small linear model every time."""
    model = nn.Linear(3, 1)
    model.weight.update(jt.array(np.array([[0.2, -0.1, 0.3]], dtype=np.float32)))
    model.bias.update(jt.zeros(1))
    return model


def mse(model, rows):
    return ((model(jt.array(X[rows])) - jt.array(Y[rows])) ** 2).mean()


def params(model):
    return {name: p.numpy().copy() for name, p in model.named_parameters()}


def assert_same_params(a, b):
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-7, err_msg=name)


@pytest.mark.parametrize('max_norm, expected', [(1.0, [-0.6, -0.8]), (10.0, [-3.0, -4.0])])
def test_clipping_scales_the_gradient_to_max_norm(max_norm, expected):
    # loss = w . (3, 4): the gradient is (3, 4), norm 5; SGD with lr 1 moves w by minus the clipped gradient.
    model = nn.Linear(2, 1, bias=False)
    model.weight.update(jt.zeros((1, 2)))
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=1.0), clip_grad=dict(max_norm=max_norm)))
    assert wrapper.update_params(model(jt.array([[3.0, 4.0]])).sum())
    np.testing.assert_allclose(model.weight.numpy()[0], expected, rtol=1e-5)


def test_clip_grad_and_accumulative_counts_are_checked():
    with pytest.raises(KeyError, match='max_norm'):
        build_optim_wrapper(linear(), dict(optimizer=SGD, clip_grad=dict(norm=1.0)))
    with pytest.raises(ValueError, match='accumulative_counts'):
        build_optim_wrapper(linear(), dict(optimizer=SGD, accumulative_counts=0))


@pytest.mark.parametrize('optimizer', [SGD, ADAMW], ids=['SGD', 'AdamW'])
def test_accumulated_small_batches_equal_one_big_batch(optimizer):
    small, big = linear(), linear()
    accumulating = build_optim_wrapper(small, dict(optimizer=optimizer, accumulative_counts=3))
    plain = build_optim_wrapper(big, dict(optimizer=optimizer))
    for update in range(2):  # two updates: AdamW's bias correction must count updates, not batches
        results = [accumulating.update_params(mse(small, [2 * i, 2 * i + 1])) for i in range(3)]
        assert results == [False, False, True]
        plain.update_params(mse(big, slice(0, 6)))
        assert_same_params(params(small), params(big))
    assert accumulating.inner_count == 6 and accumulating.optimizer.n_step == plain.optimizer.n_step == 2


def test_parameters_do_not_change_inside_a_group():
    model = linear()
    wrapper = build_optim_wrapper(model, dict(optimizer=SGD, accumulative_counts=2))
    before = params(model)
    assert not wrapper.update_params(mse(model, [0, 1]))
    assert_same_params(params(model), before)
    assert wrapper.has_pending_grads()


def test_the_last_shorter_group_of_the_run_still_updates():
    # 5 calls with accumulative_counts=2: groups of 2, 2 and 1; the last one is not diluted.
    small, big = linear(), linear()
    accumulating = build_optim_wrapper(small, dict(optimizer=SGD, accumulative_counts=2))
    accumulating.initialize_count_status(0, max_counts=5)
    plain = build_optim_wrapper(big, dict(optimizer=SGD))
    results = [accumulating.update_params(mse(small, [i])) for i in range(5)]
    assert results == [False, True, False, True, True]
    for rows in ([0, 1], [2, 3], [4]):
        plain.update_params(mse(big, rows))
    assert_same_params(params(small), params(big))


def _round_trip(state):
    """What a checkpoint does to the state: pickled, numpy inside."""
    return pickle.loads(pickle.dumps(state))


def test_resume_inside_a_group_restores_counter_gradients_and_loss_scale():
    def amp_wrapper(model):
        return build_optim_wrapper(model, dict(type='AmpOptimWrapper', optimizer=ADAMW, accumulative_counts=2,
                                               loss_scale=dict(init_scale=8.0, growth_interval=1)))

    straight_model = linear()
    straight = amp_wrapper(straight_model)
    for i in range(4):
        straight.update_params(mse(straight_model, [i]))

    first_model = linear()
    first = amp_wrapper(first_model)
    for i in range(3):  # one update (the scale doubles to 16), then one batch of the next group
        first.update_params(mse(first_model, [i]))
    saved = _round_trip(first.state_dict())
    assert saved['loss_scaler']['scale'] == 16.0 and saved['accumulation']['count'] == 3
    assert saved['accumulation']['grads'] is not None

    resumed_model = linear()
    resumed_model.load_state_dict({name: jt.array(value) for name, value in params(first_model).items()})
    resumed = amp_wrapper(resumed_model)
    resumed.load_state_dict(saved)
    assert (resumed.inner_count, resumed.loss_scaler.scale) == (3, 16.0)
    assert resumed.has_pending_grads()
    resumed.initialize_count_status(3)
    assert resumed.update_params(mse(resumed_model, [3]))
    assert_same_params(params(resumed_model), params(straight_model))
    assert resumed.loss_scaler.state_dict() == straight.loss_scaler.state_dict()
    assert resumed.optimizer.n_step == straight.optimizer.n_step == 2


def test_a_group_saved_with_another_accumulative_count_is_refused():
    model = linear()
    wrapper = build_optim_wrapper(model, dict(optimizer=SGD, accumulative_counts=2))
    wrapper.update_params(mse(model, [0]))
    other = build_optim_wrapper(linear(), dict(optimizer=SGD, accumulative_counts=4))
    with pytest.raises(ValueError, match='accumulative_counts=2'):
        other.load_state_dict(_round_trip(wrapper.state_dict()))


def test_a_state_without_a_loss_scale_keeps_the_scale_and_a_group_without_its_gradients_warns(caplog):
    # The state of a run without amp (no loss scale), saved after a complete group (no gradients).
    model = linear()
    wrapper = build_optim_wrapper(model, dict(optimizer=ADAMW))
    wrapper.update_params(mse(model, [0, 1]))
    state = _round_trip(wrapper.state_dict())
    assert 'loss_scaler' not in state and state['accumulation']['grads'] is None
    fresh = build_optim_wrapper(linear(), dict(type='AmpOptimWrapper', optimizer=ADAMW, accumulative_counts=2))
    fresh.load_state_dict(state)
    assert fresh.optimizer.n_step == 1 and not fresh.has_pending_grads() and fresh.inner_count == 1
    assert fresh.loss_scaler.scale == 2.0 ** 16  # kept: the old run did not scale
    with caplog.at_level(logging.WARNING, logger='dformer_seg'):
        fresh.initialize_count_status(1)  # inside a group whose gradients were never saved
    assert 'fewer batches' in caplog.text


def test_overflowing_gradients_skip_the_update_and_lower_the_scale():
    model = linear()
    wrapper = build_optim_wrapper(model, dict(type='AmpOptimWrapper', optimizer=ADAMW,
                                              loss_scale=dict(init_scale=4.0)))
    before = params(model)
    assert not wrapper.update_params(mse(model, [0]) * float('inf'))
    assert_same_params(params(model), before)
    assert wrapper.loss_scaler.scale == 2.0 and wrapper.optimizer.n_step == 0
    assert wrapper.update_params(mse(model, [0]))
    assert wrapper.optimizer.n_step == 1


def test_wrappers_are_registered_and_unknown_types_get_suggestions():
    assert OPTIM_WRAPPERS.get('OptimWrapper') is OptimWrapper
    assert OPTIM_WRAPPERS.get('AmpOptimWrapper') is AmpOptimWrapper
    assert type(build_optim_wrapper(linear(), dict(optimizer=SGD))) is OptimWrapper
    with pytest.raises(KeyError, match='Did you mean: OptimWrapper'):
        build_optim_wrapper(linear(), dict(type='OptimWraper', optimizer=SGD))
