"""Compare a fast op with its plain Jittor formulation: values and gradients of every input."""
import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import FAST_OPS, fast_ops, kernels
from dformer_seg.ops.dispatch import kernel_unavailable_reason


def random_array(rng, shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def values_and_grads(fn, arrays, seed=0):
    """fn(*vars) and d(sum(out * r))/d(inputs) for a fixed random projection r, as numpy."""
    inputs = [jt.array(a) for a in arrays]
    out = fn(*inputs)
    projection = jt.array(np.random.default_rng(seed).standard_normal(tuple(out.shape)).astype(np.float32))
    grads = jt.grad((out * projection).sum(), inputs)
    return out.numpy(), [g.numpy() for g in grads]


def skip_unless_kernels_run():
    """Skip (with the reason) where some fast op's kernel cannot run in this process."""
    reasons = {kernel_unavailable_reason(name) for name in FAST_OPS} - {None}
    if reasons:
        pytest.skip('fast-op kernels unavailable: ' + '; '.join(sorted(reasons)))


def assert_matches_plain(fn, arrays, rtol=1e-5, atol=1e-6):
    """The fast path of ``fn`` agrees with the same call under ``fast_ops(False)``; a kernel must have run."""
    skip_unless_kernels_run()
    before = sum(kernels.kernel_builds.values())
    fast_out, fast_grads = values_and_grads(fn, arrays)
    assert sum(kernels.kernel_builds.values()) > before, 'no fast-op kernel ran: this would compare plain with plain'
    with fast_ops(False):
        plain_out, plain_grads = values_and_grads(fn, arrays)
    assert fast_out.shape == plain_out.shape
    np.testing.assert_allclose(fast_out, plain_out, rtol=rtol, atol=atol, err_msg='forward')
    for i, (fast, plain) in enumerate(zip(fast_grads, plain_grads)):
        np.testing.assert_allclose(fast, plain, rtol=rtol, atol=atol, err_msg=f'gradient of input {i}')
    return fast_out
