import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.losses.accuracy import Accuracy, accuracy


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.normal(size=(2, 5, 3, 4)).astype(np.float32)
    target = rng.integers(0, 5, size=(2, 3, 4)).astype(np.int32)
    target[0, 0] = 255
    return pred, target


def numpy_topk_accuracy(pred, target, k, ignore_index=None, thresh=None):
    order = np.argsort(-pred, axis=1)[:, :k]
    scores = np.take_along_axis(pred, order, axis=1)
    hits = order == target[:, None]
    if thresh is not None:
        hits &= scores > thresh
    hit = hits.any(axis=1)
    valid = np.ones_like(target, bool) if ignore_index is None else target != ignore_index
    return 100.0 * (hit & valid).sum() / valid.sum()


def test_top1_and_topk_with_ignore():
    pred, target = make_batch()
    top1, top3 = accuracy(jt.array(pred), jt.array(target), topk=(1, 3), ignore_index=255)
    np.testing.assert_allclose(top1.numpy(), numpy_topk_accuracy(pred, target, 1, 255), rtol=1e-6)
    np.testing.assert_allclose(top3.numpy(), numpy_topk_accuracy(pred, target, 3, 255), rtol=1e-6)
    single = accuracy(jt.array(pred), jt.array(target), ignore_index=255)
    np.testing.assert_allclose(single.numpy(), numpy_topk_accuracy(pred, target, 1, 255), rtol=1e-6)


def test_threshold_and_no_ignore_index():
    pred, target = make_batch(1)
    target[target == 255] = 0
    value = Accuracy(topk=2, thresh=0.3)(jt.array(pred), jt.array(target))
    np.testing.assert_allclose(value.numpy(), numpy_topk_accuracy(pred, target, 2, thresh=0.3), rtol=1e-6)


def test_perfect_prediction_and_all_ignored():
    target = np.array([[[0, 1], [2, 1]]], dtype=np.int32)
    pred = np.eye(3, dtype=np.float32)[target].transpose(0, 3, 1, 2)
    assert accuracy(jt.array(pred), jt.array(target)).item() == pytest.approx(100.0)
    ignored = np.full_like(target, 255)
    assert accuracy(jt.array(pred), jt.array(ignored), ignore_index=255).item() == 0.0


def test_errors():
    pred, target = make_batch()
    with pytest.raises(ValueError, match='exceeds'):
        accuracy(jt.array(pred), jt.array(target), topk=6)
    with pytest.raises(ValueError, match='label shape'):
        accuracy(jt.array(pred), jt.array(target[0]))
    with pytest.raises(ValueError, match='topk'):
        accuracy(jt.array(pred), jt.array(target), topk=0)
