"""Learning-rate schedules as pure functions of the iteration.

``scheduler.get_lr(base_lr, cur_iter)`` gives the learning rate of the
(0-based) iteration ``cur_iter`` for a parameter group whose configured rate is
``base_lr``. Being stateless, a resumed run needs no scheduler state: the LR of
iteration k is the same whether or not the run was interrupted.

Schedules are always applied per iteration. Lengths may be given in epochs
(``warmup_epochs``); the runner passes ``iters_per_epoch`` to convert them.
"""
import math

from ...registry import SCHEDULERS


def _iters_from(name, iters, epochs, iters_per_epoch):
    """Resolve a length given either in iterations or in epochs."""
    if iters is not None and epochs is not None:
        raise ValueError(f'give {name}_iters or {name}_epochs, not both')
    if epochs is not None:
        if iters_per_epoch is None:
            raise ValueError(f'{name}_epochs needs iters_per_epoch (an epoch-based train loop); '
                             f'use {name}_iters instead')
        iters = int(round(epochs * iters_per_epoch))
    iters = 0 if iters is None else int(iters)
    if iters < 0:
        raise ValueError(f'{name} length must be >= 0, got {iters}')
    return iters


class _Schedule:
    def __init__(self, max_iters, iters_per_epoch=None, warmup_iters=None, warmup_epochs=None,
                 warmup_ratio=0.0):
        if not max_iters or max_iters <= 0:
            raise ValueError(f'max_iters must be a positive number of iterations, got {max_iters!r}')
        self.max_iters = int(max_iters)
        self.warmup_iters = _iters_from('warmup', warmup_iters, warmup_epochs, iters_per_epoch)
        if self.warmup_iters > self.max_iters:
            raise ValueError(f'warm-up ({self.warmup_iters} iters) is longer than training '
                             f'({self.max_iters} iters)')
        if not 0.0 <= warmup_ratio <= 1.0:
            raise ValueError(f'warmup_ratio must be in [0, 1], got {warmup_ratio}')
        self.warmup_ratio = float(warmup_ratio)

    def get_lr(self, base_lr, cur_iter):
        if cur_iter < 0:
            raise ValueError(f'iteration must be >= 0, got {cur_iter}')
        if cur_iter < self.warmup_iters:
            # Linear warm-up from warmup_ratio * base_lr towards base_lr.
            progress = cur_iter / self.warmup_iters
            return base_lr * (self.warmup_ratio + (1.0 - self.warmup_ratio) * progress)
        return self.decayed_lr(base_lr, cur_iter)

    def decayed_lr(self, base_lr, cur_iter):
        raise NotImplementedError


@SCHEDULERS.register_module()
class WarmupPolyLR(_Schedule):
    """DFormer's ``WarmUpPolyLR``: linear warm-up, then ``base * (1 - it / max_iters) ** power``.

    The poly term is computed over the *total* iteration count, not restarted
    after warm-up (unlike mmengine's ``PolyLR(begin=warmup_end)``), so at the end
    of warm-up the LR drops from ``base`` to ``base * (1 - warmup/total) ** power``
    exactly as in the official recipe. With ``eta_min`` the decay ends there.

    One deliberate difference from the official loop: it sets the LR *after*
    each step, so its step k runs with the LR of k-1 (and step 0 with the full
    base LR). Here iteration k runs with ``get_lr(base, k)``.
    """

    def __init__(self, max_iters, power=0.9, eta_min=0.0, **warmup):
        super().__init__(max_iters, **warmup)
        self.power = float(power)
        self.eta_min = float(eta_min)

    def decayed_lr(self, base_lr, cur_iter):
        remaining = max(1.0 - cur_iter / self.max_iters, 0.0)
        return (base_lr - self.eta_min) * remaining ** self.power + self.eta_min


@SCHEDULERS.register_module()
class PolyLR(_Schedule):
    """Poly decay restarted after the (optional) warm-up, as mmengine's ``PolyLR``."""

    def __init__(self, max_iters, power=0.9, eta_min=0.0, **warmup):
        super().__init__(max_iters, **warmup)
        self.power = float(power)
        self.eta_min = float(eta_min)

    def decayed_lr(self, base_lr, cur_iter):
        span = max(self.max_iters - self.warmup_iters, 1)
        remaining = max(1.0 - (cur_iter - self.warmup_iters) / span, 0.0)
        return (base_lr - self.eta_min) * remaining ** self.power + self.eta_min


@SCHEDULERS.register_module()
class CosineAnnealingLR(_Schedule):
    """Cosine decay from ``base_lr`` to ``eta_min`` over the iterations after warm-up."""

    def __init__(self, max_iters, eta_min=0.0, **warmup):
        super().__init__(max_iters, **warmup)
        self.eta_min = float(eta_min)

    def decayed_lr(self, base_lr, cur_iter):
        span = max(self.max_iters - self.warmup_iters, 1)
        progress = min((cur_iter - self.warmup_iters) / span, 1.0)
        return self.eta_min + (base_lr - self.eta_min) * 0.5 * (1.0 + math.cos(math.pi * progress))


@SCHEDULERS.register_module()
class ConstantLR(_Schedule):
    """The configured LR throughout (after an optional warm-up)."""

    def decayed_lr(self, base_lr, cur_iter):
        return base_lr


def build_scheduler(cfg, max_iters, iters_per_epoch=None):
    """Build a schedule from ``cfg`` (one dict; ``None`` means a constant LR)."""
    if cfg is None:
        return ConstantLR(max_iters)
    if isinstance(cfg, (list, tuple)):
        raise TypeError('param_scheduler must be one dict (e.g. dict(type="WarmupPolyLR", warmup_epochs=10, '
                        'power=0.9)); the warm-up is part of each schedule, so lists are not needed')
    return SCHEDULERS.build(cfg, max_iters=max_iters, iters_per_epoch=iters_per_epoch)
