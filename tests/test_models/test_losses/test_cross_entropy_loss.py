import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.losses.cross_entropy_loss import CrossEntropyLoss
from dformer_seg.registry import LOSSES

NUM_CLASSES = 4
IGNORE = 255


def make_batch(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(2, NUM_CLASSES, 3, 5)).astype(np.float32)
    label = rng.integers(0, NUM_CLASSES, size=(2, 3, 5)).astype(np.int32)
    label[0, 0, :3] = IGNORE
    label[1, 2, 4] = IGNORE
    return logits, label


def numpy_nll(logits, label):
    """Per-pixel -log softmax(logits)[label] (0 at ignored pixels) and the valid mask."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    valid = label != IGNORE
    safe = np.where(valid, label, 0)
    nll = -np.take_along_axis(log_prob, safe[:, None], axis=1)[:, 0]
    return np.where(valid, nll, 0.0), valid


def numpy_bce(logits, label, pos_weight=None):
    onehot = (np.arange(NUM_CLASSES)[None, :, None, None] == label[:, None]).astype(np.float64)
    prob = 1 / (1 + np.exp(-logits.astype(np.float64)))
    pw = np.ones(NUM_CLASSES) if pos_weight is None else np.asarray(pos_weight)
    loss = -(pw[None, :, None, None] * onehot * np.log(prob) + (1 - onehot) * np.log(1 - prob))
    valid = np.broadcast_to((label != IGNORE)[:, None], loss.shape)
    return np.where(valid, loss, 0.0), valid


def run(loss_module, logits, label):
    return loss_module(jt.array(logits), jt.array(label)).numpy()


def test_mean_over_non_ignored_pixels():
    logits, label = make_batch()
    nll, valid = numpy_nll(logits, label)
    value = run(CrossEntropyLoss(), logits, label)
    np.testing.assert_allclose(value, nll.sum() / valid.sum(), rtol=1e-5)


def test_class_weight_is_a_weighted_mean_like_pytorch():
    logits, label = make_batch(1)
    weights = np.array([0.5, 2.0, 1.0, 3.0])
    nll, valid = numpy_nll(logits, label)
    pixel_w = np.where(valid, weights[np.where(valid, label, 0)], 0.0)
    expected = (nll * pixel_w).sum() / pixel_w.sum()
    value = run(CrossEntropyLoss(class_weight=weights.tolist(), loss_weight=0.4), logits, label)
    np.testing.assert_allclose(value, 0.4 * expected, rtol=1e-5)


def test_class_weight_from_npy_file(tmp_path):
    logits, label = make_batch(2)
    weights = np.array([1.0, 0.0, 2.0, 1.0], dtype=np.float32)
    path = tmp_path / 'w.npy'
    np.save(path, weights)
    nll, valid = numpy_nll(logits, label)
    pixel_w = np.where(valid, weights[np.where(valid, label, 0)], 0.0)
    value = run(CrossEntropyLoss(class_weight=str(path)), logits, label)
    np.testing.assert_allclose(value, (nll * pixel_w).sum() / pixel_w.sum(), rtol=1e-5)


def test_avg_non_ignore_false_divides_by_all_pixels_and_reductions():
    logits, label = make_batch(3)
    nll, _ = numpy_nll(logits, label)
    np.testing.assert_allclose(run(CrossEntropyLoss(avg_non_ignore=False), logits, label), nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(run(CrossEntropyLoss(reduction='sum'), logits, label), nll.sum(), rtol=1e-5)
    per_pixel = run(CrossEntropyLoss(reduction='none'), logits, label)
    assert per_pixel.shape == label.shape
    np.testing.assert_allclose(per_pixel, nll, rtol=1e-5, atol=1e-6)


def test_custom_ignore_index_and_all_ignored_batch():
    logits, label = make_batch(4)
    label[label == IGNORE] = 0
    label[:, 0] = 3  # now treat class 3 as "ignore"
    loss = CrossEntropyLoss(ignore_index=3)
    masked = np.where(label == 3, IGNORE, label)
    nll, valid = numpy_nll(logits, masked)
    np.testing.assert_allclose(run(loss, logits, label), nll.sum() / valid.sum(), rtol=1e-5)
    # The ignore_index given at call time (the head's) wins over the module's own.
    value = loss(jt.array(logits), jt.array(masked), ignore_index=IGNORE).numpy()
    np.testing.assert_allclose(value, nll.sum() / valid.sum(), rtol=1e-5)
    all_ignored = np.full_like(label, IGNORE)
    assert run(CrossEntropyLoss(), logits, all_ignored).item() == 0.0


def test_sigmoid_cross_entropy_with_pos_weight():
    logits, label = make_batch(5)
    loss, valid = numpy_bce(logits, label)
    value = run(CrossEntropyLoss(use_sigmoid=True), logits, label)
    np.testing.assert_allclose(value, loss.sum() / valid.sum(), rtol=1e-5)
    weights = [1.0, 3.0, 0.5, 2.0]
    loss, valid = numpy_bce(logits, label, weights)
    value = run(CrossEntropyLoss(use_sigmoid=True, class_weight=weights), logits, label)
    np.testing.assert_allclose(value, loss.sum() / valid.sum(), rtol=1e-5)


def test_gradient_matches_softmax_minus_onehot():
    logits, label = make_batch(6)
    x = jt.array(logits)
    grad = jt.grad(CrossEntropyLoss()(x, jt.array(label)), x).numpy()
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    valid = label != IGNORE
    onehot = np.arange(NUM_CLASSES)[None, :, None, None] == np.where(valid, label, 0)[:, None]
    expected = (prob - onehot) * valid[:, None] / valid.sum()
    np.testing.assert_allclose(grad, expected, atol=1e-6)


def test_registered_and_errors():
    loss = LOSSES.build(dict(type='CrossEntropyLoss', loss_name='loss_x'))
    assert loss.loss_name == 'loss_x'
    logits, label = make_batch(7)
    with pytest.raises(ValueError, match='label shape'):
        loss(jt.array(logits), jt.array(label[:, :2]))
    bad = label.copy()
    bad[0, 1, 1] = NUM_CLASSES
    with pytest.raises(ValueError, match='label values'):
        loss(jt.array(logits), jt.array(bad))
    with pytest.raises(ValueError, match='class_weight has shape'):
        CrossEntropyLoss(class_weight=[1.0, 2.0])(jt.array(logits), jt.array(label))
    with pytest.raises(ValueError, match='reduction'):
        CrossEntropyLoss(reduction='avg')
    with pytest.raises(ValueError, match='.npy'):
        CrossEntropyLoss(class_weight='weights.txt')
    # The class weights must not become parameters (they would leak into checkpoints).
    assert CrossEntropyLoss(class_weight=[1.0] * NUM_CLASSES).state_dict() == {}
