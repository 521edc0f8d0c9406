"""Mixed precision on CUDA: Jittor's automatic fp16 plus a dynamic loss scale.

Jittor runs ops in float16 under ``jt.flag_scope(auto_mixed_precision_level=L)``
(level 5: prefer fp16, keep reductions and exp in fp32); the parameters stay
float32. Small fp16 gradients underflow to zero, so the loss is multiplied by
``scale`` before the backward pass and the gradients are divided by it before
the step; a step whose gradients overflowed is skipped and the scale halved.
On the CPU Jittor's fp16 kernels are not relayed to oneDNN (a convolution runs
about a thousand times slower), so the runner refuses ``amp`` there.
"""
import contextlib

import jittor as jt


def float16_scope(level):
    """Jittor's automatic float16 at ``level`` inside the block (``None``: float32, nothing changes). The one
    place that turns it on: the optimizer wrapper's ``optim_context`` for training, the Runner for testing."""
    if level is None:
        return contextlib.nullcontext()
    return jt.flag_scope(auto_mixed_precision_level=int(level))


class DynamicLossScaler:
    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000):
        if init_scale <= 0 or growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0 or growth_interval < 1:
            raise ValueError('loss scaler needs init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 '
                             'and growth_interval >= 1')
        self.scale = float(init_scale)
        self.growth_factor = float(growth_factor)
        self.backoff_factor = float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self._good_steps = 0

    def unscale_and_check(self, optimizer):
        """Divide the gradients by the scale; return whether all of them are finite."""
        grads = [g for group in optimizer.param_groups
                 for p, g in zip(group['params'], group.get('grads', [])) if not p.is_stop_grad()]
        if not grads:
            return True
        inv_scale = 1.0 / self.scale
        for g in grads:
            g.update(g * inv_scale)
        # Any inf or nan in any gradient makes this sum non-finite.
        total = jt.concat([g.float32().sum().reshape(1) for g in grads]).sum()
        value = float(total.item())
        return value == value and abs(value) != float('inf')

    def update(self, finite):
        if not finite:
            self.scale *= self.backoff_factor
            self._good_steps = 0
            return
        self._good_steps += 1
        if self._good_steps % self.growth_interval == 0:
            self.scale *= self.growth_factor

    def state_dict(self):
        return dict(scale=self.scale, good_steps=self._good_steps)

    def load_state_dict(self, state):
        self.scale = float(state['scale'])
        self._good_steps = int(state['good_steps'])
