import jittor as jt
import numpy as np
import pytest

from dformer_seg import ops
from dformer_seg.ops import dispatch


def test_cpu_float32_uses_kernels():
    x = jt.zeros((2, 3))
    assert dispatch.use_kernel('softmax', x) == (not jt.flags.use_cuda)


def test_switch_and_dtype_select_the_plain_path():
    x = jt.zeros((2, 3))
    with ops.fast_ops(False):
        assert not ops.fast_ops_enabled()
        assert not dispatch.use_kernel('softmax', x)
        assert 'switched off' in dispatch.kernel_unavailable_reason('softmax')
    assert ops.fast_ops_enabled()
    assert not dispatch.use_kernel('softmax', x, jt.zeros((2, 3), dtype='float64'))


def test_switch_is_restored_after_an_error():
    with pytest.raises(RuntimeError):
        with ops.fast_ops(False):
            raise RuntimeError('boom')
    assert ops.fast_ops_enabled()


def test_float64_inputs_fall_back_and_keep_their_dtype():
    x = jt.array(np.linspace(-2, 2, 12).reshape(3, 4)).float64()
    assert str(ops.softmax(x).dtype) == 'float64'
    assert str(ops.gelu(x).dtype) == 'float64'
    np.testing.assert_allclose(ops.softmax(x).numpy().sum(-1), 1.0, rtol=1e-12)


def test_needs_grad_follows_stop_grad_and_no_grad():
    trainable, frozen = jt.ones(2), jt.ones(2).stop_grad()
    assert dispatch.needs_grad(trainable, frozen)
    assert not dispatch.needs_grad(frozen)
    with jt.no_grad():
        assert not dispatch.needs_grad(trainable)


def test_unknown_op_is_named():
    with pytest.raises(KeyError, match='unknown fast op .no_such_op.'):
        dispatch.use_kernel('no_such_op', jt.zeros(2))
