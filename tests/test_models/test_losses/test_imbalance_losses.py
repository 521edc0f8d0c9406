"""DiceLoss, FocalLoss and LovaszLoss against hand-computed values, ignore_index, absent classes, numerical
gradients, and their use in a list with cross-entropy in a decode head."""
import math

import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.losses import DiceLoss, FocalLoss, LovaszLoss
from dformer_seg.registry import LOSSES

IGNORE = 255


def logits_of(probabilities):
    """(N, C, H, W) logits whose softmax over C is ``probabilities`` (given as pixels x classes of one row)."""
    prob = np.asarray(probabilities, dtype=np.float64)  # (W, C): one image, one row of W pixels
    return jt.array(np.log(prob).T[None, :, None, :])


def labels_of(values):
    return jt.array(np.asarray(values, dtype=np.int32)[None, None, :])


# Two labelled pixels (classes 0 and 1) of a 3-class problem: class 2 is absent.
PROBS = [[0.7, 0.2, 0.1], [0.2, 0.6, 0.2]]
LABELS = [0, 1]
# The same plus a pixel labelled ignore_index, whatever its probabilities.
PROBS_IGNORED = PROBS + [[0.05, 0.05, 0.9]]
LABELS_IGNORED = LABELS + [IGNORE]


def value(loss, probs=PROBS, labels=LABELS):
    return float(loss(logits_of(probs), labels_of(labels)).item())


def test_dice_by_hand():
    # per class: 1 - (2 sum(p t) + 1) / (sum(p^2) + sum(t^2) + 1)
    expected = np.mean([1 - 2.4 / 2.53,   # class 0: p.t = 0.7, p^2 = 0.49 + 0.04, t^2 = 1
                        1 - 2.2 / 2.4,    # class 1: p.t = 0.6, p^2 = 0.04 + 0.36, t^2 = 1
                        1 - 1.0 / 1.05])  # class 2 (absent): p.t = 0, p^2 = 0.01 + 0.04, t^2 = 0
    loss = DiceLoss()
    assert value(loss) == pytest.approx(expected, rel=1e-6)
    assert value(loss, PROBS_IGNORED, LABELS_IGNORED) == pytest.approx(expected, rel=1e-6)
    weighted = DiceLoss(class_weight=[1, 2, 1], loss_weight=0.5)
    terms = [1 - 2.4 / 2.53, 1 - 2.2 / 2.4, 1 - 1.0 / 1.05]
    assert value(weighted) == pytest.approx(0.5 * (terms[0] + 2 * terms[1] + terms[2]) / 4, rel=1e-6)


def test_focal_by_hand():
    near, far = 0.3 ** 2 * -math.log(0.7), 0.4 ** 2 * -math.log(0.6)  # (1 - p_y)^2 (-log p_y)
    assert value(FocalLoss()) == pytest.approx((near + far) / 2, rel=1e-6)
    assert value(FocalLoss(), PROBS_IGNORED, LABELS_IGNORED) == pytest.approx((near + far) / 2, rel=1e-6)
    assert value(FocalLoss(class_weight=[1, 2, 1])) == pytest.approx((near + 2 * far) / 3, rel=1e-6)
    cross_entropy = (-math.log(0.7) - math.log(0.6)) / 2
    assert value(FocalLoss(gamma=0)) == pytest.approx(cross_entropy, rel=1e-6)
    assert value(FocalLoss(), [[0.5, 0.5, 0.0 + 1e-12]], [IGNORE]) == 0.0  # every pixel ignored


def test_lovasz_by_hand():
    # Class 0: errors |t - p| = (0.3, 0.2), foreground (1, 0): sorted, the Jaccard losses are (1, 1), steps (1, 0)
    # -> 0.3. Class 1: errors (0.2, 0.4) -> 0.4. Class 2 (absent): errors (0.1, 0.2) -> 0.2.
    assert value(LovaszLoss()) == pytest.approx((0.3 + 0.4) / 2, rel=1e-6)
    assert value(LovaszLoss(classes='all')) == pytest.approx((0.3 + 0.4 + 0.2) / 3, rel=1e-6)
    assert value(LovaszLoss(), PROBS_IGNORED, LABELS_IGNORED) == pytest.approx(0.35, rel=1e-6)
    # Three pixels, two classes, labels (0, 0, 1), p0 = (0.9, 0.4, 0.3):
    # class 0: errors (0.1, 0.6, 0.3); sorted 0.6 (fg), 0.3 (bg), 0.1 (fg); intersection (1, 1, 0),
    #   union (2, 3, 3), Jaccard loss (1/2, 2/3, 1), steps (1/2, 1/6, 1/3) -> 0.3 + 0.05 + 1/30
    # class 1: errors (0.1, 0.6, 0.3); sorted 0.6 (bg), 0.3 (fg), 0.1 (bg); intersection (1, 0, 0),
    #   union (2, 2, 3), Jaccard loss (1/2, 1, 1), steps (1/2, 1/2, 0) -> 0.3 + 0.15
    three = [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]
    assert value(LovaszLoss(), three, [0, 0, 1]) == pytest.approx((0.3 + 0.05 + 1 / 30 + 0.45) / 2, rel=1e-6)
    # per_image: the mean of the two images' losses
    two_images = jt.concat([logits_of(PROBS), logits_of([[0.5, 0.5, 1e-9], [0.5, 0.5, 1e-9]])], dim=0)
    labels = jt.concat([labels_of(LABELS), labels_of([0, IGNORE])], dim=0)
    second = 0.5  # class 0 only: one pixel, error 0.5
    got = float(LovaszLoss(per_image=True)(two_images, labels).item())
    assert got == pytest.approx((0.35 + second) / 2, rel=1e-5)


@pytest.mark.parametrize('loss', [DiceLoss(), FocalLoss(gamma=1.5, class_weight=[1, 3, 2]),
                                  LovaszLoss(), LovaszLoss(classes='all', per_image=True)],
                         ids=['dice', 'focal', 'lovasz', 'lovasz_all_per_image'])
def test_gradients_match_finite_differences(loss):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, size=(2, 3, 2, 2))
    labels = jt.array(np.array([[[0, 1], [2, IGNORE]], [[1, 1], [0, IGNORE]]], dtype=np.int32))
    with jt.flag_scope(auto_convert_64_to_32=0):  # float64 logits, so that the losses run in float64
        variable = jt.array(logits)
        assert str(variable.dtype) == 'float64'
        analytic = jt.grad(loss(variable, labels), variable).numpy()
        numeric = np.zeros_like(logits)
        step = 1e-6
        for index in np.ndindex(logits.shape):
            shifted = []
            for sign in (1, -1):
                moved = logits.copy()
                moved[index] += sign * step
                shifted.append(float(loss(jt.array(moved), labels).item()))
            numeric[index] = (shifted[0] - shifted[1]) / (2 * step)
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)
    assert np.all(analytic[:, :, 1, 1] == 0)  # ignored pixels get no gradient


def test_registry_names_and_bad_arguments():
    for name, default in (('DiceLoss', 'loss_dice'), ('FocalLoss', 'loss_focal'), ('LovaszLoss', 'loss_lovasz')):
        assert LOSSES.build(dict(type=name)).loss_name == default
    with pytest.raises(ValueError, match='must contain "loss"'):
        DiceLoss(loss_name='dice')
    with pytest.raises(ValueError, match='classes must be one of'):
        LovaszLoss(classes='some')
    with pytest.raises(ValueError, match='label values must be in'):
        DiceLoss()(logits_of(PROBS), labels_of([0, 7]))
    with pytest.raises(ValueError, match='class_weight has 2 entries for 3 classes'):
        FocalLoss(class_weight=[1, 1])(logits_of(PROBS), labels_of(LABELS))


def test_decode_head_sums_a_loss_list_and_logs_each_by_name():
    from dformer_seg.models.decode_heads.decode_head import BaseDecodeHead

    class Head(BaseDecodeHead):
        def execute(self, inputs):
            return inputs

    head = Head(4, 4, num_classes=3, loss_decode=[dict(type='CrossEntropyLoss', loss_weight=1.0),
                                                  dict(type='DiceLoss', loss_weight=0.5),
                                                  dict(type='LovaszLoss', loss_weight=0.25)])
    logits, labels = logits_of(PROBS_IGNORED), labels_of(LABELS_IGNORED)
    losses = head.loss(logits.float32(), labels)
    assert sorted(losses) == ['acc_seg', 'loss_ce', 'loss_dice', 'loss_lovasz']
    assert float(losses['loss_ce'].item()) == pytest.approx((-math.log(0.7) - math.log(0.6)) / 2, rel=1e-5)
    assert float(losses['loss_dice'].item()) == pytest.approx(0.5 * value(DiceLoss()), rel=1e-5)
    assert float(losses['loss_lovasz'].item()) == pytest.approx(0.25 * 0.35, rel=1e-5)
