"""DropPath: per-sample stochastic depth, and the equivalent scale used to fuse it into a Linear."""
import jittor as jt
import numpy as np

from dformer_seg.models.utils import DropPath


def test_inactive_in_eval_mode_and_at_rate_zero():
    x = jt.array(np.ones((4, 3, 2), dtype=np.float32))
    layer_scale = jt.array(np.array([0.5, 2.0], dtype=np.float32))
    for drop in (DropPath(0.5), DropPath(0.0)):
        if drop.drop_prob == 0.0:
            drop.train()
        else:
            drop.eval()
        assert not drop.active
        np.testing.assert_array_equal(drop(x).numpy(), x.numpy())
        assert drop.branch_scale(layer_scale, x) is layer_scale


def test_branch_scale_equals_dropping_the_scaled_branch():
    rng = np.random.default_rng(0)
    branch = jt.array(rng.standard_normal((64, 3, 5)).astype(np.float32))
    layer_scale = jt.array(rng.uniform(0.5, 1.5, size=(5,)).astype(np.float32))
    drop = DropPath(0.5)
    drop.train()
    assert drop.active
    jt.set_global_seed(3)
    dropped = drop(layer_scale * branch).numpy()
    jt.set_global_seed(3)
    factor = drop.branch_scale(layer_scale, branch)
    assert tuple(factor.shape) == (64, 1, 5)
    np.testing.assert_allclose((factor * branch).numpy(), dropped, rtol=1e-6)
    kept = np.abs(dropped).reshape(64, -1).max(axis=1) > 0
    assert 0 < kept.sum() < 64  # whole samples dropped, others kept
    np.testing.assert_allclose(dropped[kept], (layer_scale * branch).numpy()[kept] / 0.5, rtol=1e-6)
