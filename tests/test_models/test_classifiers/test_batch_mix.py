import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.classifiers import MixupCutmix, smoothed_one_hot


def _inputs():
    img = jt.array(np.stack([np.full((3, 8, 8), v, np.float32) for v in (0.0, 1.0)]))
    depth = jt.array(np.stack([np.full((1, 8, 8), v, np.float32) for v in (10.0, 20.0)]))
    return img, depth, jt.array(np.array([0, 2], dtype=np.int64))


def test_smoothed_one_hot():
    targets = smoothed_one_hot(jt.array(np.array([1])), 4, 0.2).numpy()
    np.testing.assert_allclose(targets, [[0.05, 0.85, 0.05, 0.05]], rtol=1e-6)


def test_mixup_blends_rgb_depth_and_targets_with_one_weight():
    np.random.seed(3)
    img, depth, labels = _inputs()
    mixed_img, mixed_depth, targets = MixupCutmix(3, mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.0)(
        img, depth, labels)
    lam = 1.0 - float(mixed_img.numpy()[0, 0, 0, 0])  # image 0 (value 0) mixed with image 1 (value 1)
    np.testing.assert_allclose(mixed_depth.numpy()[0], 10 * lam + 20 * (1 - lam), rtol=1e-5)
    np.testing.assert_allclose(targets.numpy()[0], [lam, 0, 1 - lam], rtol=1e-5)


def test_cutmix_pastes_one_box_in_rgb_and_depth_and_weights_targets_by_area():
    np.random.seed(0)
    img, depth, labels = _inputs()
    mixed_img, mixed_depth, targets = MixupCutmix(3, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0)(
        img, depth, labels)
    pasted = mixed_img.numpy()[0, 0] == 1.0
    assert 0 < pasted.sum() < 64
    np.testing.assert_array_equal(mixed_depth.numpy()[0, 0] == 20.0, pasted)
    area = pasted.mean()
    np.testing.assert_allclose(targets.numpy()[0], [1 - area, 0, area], rtol=1e-5)


def test_no_mix_when_prob_is_zero():
    img, depth, labels = _inputs()
    out_img, _, targets = MixupCutmix(3, prob=0.0, label_smoothing=0.0)(img, depth, labels)
    np.testing.assert_array_equal(out_img.numpy(), img.numpy())
    np.testing.assert_array_equal(targets.numpy(), [[1, 0, 0], [0, 0, 1]])


def test_seeded_draws_repeat():
    draws = []
    for _ in range(2):
        np.random.seed(11)
        draws.append([MixupCutmix(3).draw(16, 16) for _ in range(5)])
    assert draws[0] == draws[1]


def test_bad_settings():
    with pytest.raises(ValueError, match='one of them > 0'):
        MixupCutmix(3, mixup_alpha=0.0, cutmix_alpha=0.0)
    with pytest.raises(ValueError, match='switch_prob'):
        MixupCutmix(3, switch_prob=1.5)
