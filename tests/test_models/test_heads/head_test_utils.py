"""Tiny inputs shared by the decode-head tests."""
import jittor as jt
import numpy as np

IMAGE_SIZE = (75, 103)  # odd on purpose
FEATURE_SIZES = [(19, 26), (10, 13), (5, 7), (3, 4)]  # strides 4, 8, 16, 32 of IMAGE_SIZE (ceil)
FEATURE_CHANNELS = [8, 16, 24, 32]
NUM_CLASSES = 5


def make_features(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return [jt.array(rng.normal(size=(batch, c, h, w)).astype(np.float32))
            for c, (h, w) in zip(FEATURE_CHANNELS, FEATURE_SIZES)]


def make_labels(batch=2, seed=0):
    rng = np.random.default_rng(seed + 100)
    labels = rng.integers(0, NUM_CLASSES, size=(batch,) + IMAGE_SIZE).astype(np.int32)
    labels[:, :5] = 255
    return jt.array(labels)


def total_loss(losses):
    return sum(value for name, value in losses.items() if 'loss' in name)


def check_gradients_reach_parameters(head, loss):
    """Every trainable parameter gets a finite gradient; every weight a non-zero one.

    (Conv biases right before a BatchNorm get a zero gradient in training mode by
    construction, so only weights are required to be non-zero.)
    """
    named = {name: var for name, var in head.state_dict().items() if not var.is_stop_grad()}
    assert named, 'the head has no trainable parameters'
    grads = jt.grad(loss, list(named.values()))
    for (name, _), grad in zip(named.items(), grads):
        grad = grad.numpy()
        assert np.all(np.isfinite(grad)), name
        if name.endswith('weight'):
            assert np.abs(grad).sum() > 0, f'no gradient reaches {name}'
