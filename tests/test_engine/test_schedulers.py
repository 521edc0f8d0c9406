import math

import pytest

from dformer_seg.engine.optim import CosineAnnealingLR, PolyLR, WarmupPolyLR, build_scheduler


def dformer_warmup_poly(base, power, total, warmup, it):
    """The official utils/lr_policy.py WarmUpPolyLR formula, written out."""
    if it < warmup:
        return base * it / warmup
    return base * (1 - it / total) ** power


@pytest.mark.parametrize('it', [0, 1, 5, 9, 10, 11, 50, 99])
def test_warmup_poly_matches_official_formula(it):
    sched = WarmupPolyLR(max_iters=100, warmup_iters=10, power=0.9)
    assert sched.get_lr(6e-5, it) == pytest.approx(dformer_warmup_poly(6e-5, 0.9, 100, 10, it), rel=1e-12)


def test_warmup_poly_is_not_rebased_after_warmup():
    warm_poly = WarmupPolyLR(max_iters=100, warmup_iters=10, power=1.0)
    rebased = PolyLR(max_iters=100, warmup_iters=10, power=1.0)
    # Right after warm-up the official schedule has already decayed by 10%; a rebased poly has not.
    assert warm_poly.get_lr(1.0, 10) == pytest.approx(0.9)
    assert rebased.get_lr(1.0, 10) == pytest.approx(1.0)
    assert rebased.get_lr(1.0, 55) == pytest.approx(0.5)


def test_epoch_units_are_converted_to_iterations():
    by_epochs = build_scheduler(dict(type='WarmupPolyLR', warmup_epochs=2, power=0.9), max_iters=50,
                                iters_per_epoch=5)
    assert by_epochs.warmup_iters == 10
    assert by_epochs.get_lr(1.0, 5) == pytest.approx(0.5)


def test_cosine_and_eta_min():
    sched = CosineAnnealingLR(max_iters=20, eta_min=0.1)
    assert sched.get_lr(1.0, 0) == pytest.approx(1.0)
    assert sched.get_lr(1.0, 10) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2)))
    assert sched.get_lr(1.0, 20) == pytest.approx(0.1)
    assert WarmupPolyLR(max_iters=10, eta_min=0.2).get_lr(1.0, 10) == pytest.approx(0.2)


def test_warmup_ratio_starts_above_zero():
    assert WarmupPolyLR(max_iters=100, warmup_iters=10, warmup_ratio=0.1).get_lr(1.0, 0) == pytest.approx(0.1)


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match='longer than training'):
        WarmupPolyLR(max_iters=5, warmup_iters=10)
    with pytest.raises(ValueError, match='not both'):
        WarmupPolyLR(max_iters=50, warmup_iters=1, warmup_epochs=1, iters_per_epoch=5)
    with pytest.raises(ValueError, match='iters_per_epoch'):
        build_scheduler(dict(type='WarmupPolyLR', warmup_epochs=1), max_iters=50)
    with pytest.raises(TypeError, match='one dict'):
        build_scheduler([dict(type='PolyLR')], max_iters=50)
    assert build_scheduler(None, max_iters=5).get_lr(0.3, 4) == 0.3
