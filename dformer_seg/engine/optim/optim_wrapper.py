"""Optimizer wrappers: the optimisation step of one training iteration.

A model's ``train_step`` (``models/base_model.py``) runs its forward pass inside
``optim_wrapper.optim_context(model)`` (the precision of the step: float16 with
``AmpOptimWrapper``) and then calls ``optim_wrapper.update_params(loss)``: the
backward pass and, every ``accumulative_counts``-th call, gradient clipping, the
optimizer step and clearing the gradients::

    optim_wrapper = dict(
        type='OptimWrapper',            # or 'AmpOptimWrapper' (loss scaling for amp)
        optimizer=dict(type='AdamW', lr=6e-5, weight_decay=0.01),
        paramwise_cfg=dict(norm_decay_mult=0.0),
        clip_grad=dict(max_norm=1.0, norm_type=2),
        accumulative_counts=4)          # one update per 4 batches

Gradient accumulation: each loss is divided by ``accumulative_counts`` before
its backward pass, so ``accumulative_counts`` batches of size b give the
gradient of one batch of size ``accumulative_counts * b`` (for a loss that is
a mean over the batch). Groups are counted over the whole run (they may span
an epoch boundary); when the number of calls of the run (``max_counts``, the
Runner's ``max_iters``) is not a multiple of ``accumulative_counts``, the last,
shorter group divides by its own size and still updates (without ``max_counts``,
outside the Runner, a trailing incomplete group waits for more calls; ``step()``
applies it as it is). A checkpoint written inside a group stores the gradients
accumulated so far, so a resumed run continues that group.
"""
import contextlib

import jittor as jt
import numpy as np

from ...registry import OPTIM_WRAPPERS
from ...utils.jittor_internals import undo_step_count
from ...utils.logger import get_logger
from .amp import DynamicLossScaler, float16_scope
from .builder import build_optimizer, load_optimizer_state_dict, optimizer_state_dict

_CLIP_KEYS = ('max_norm', 'norm_type')


def _trainable(optimizer):
    """``(name, parameter, gradient)`` of every trained parameter (groups built by ``build_optimizer``);
    the gradient is None before the first backward pass."""
    for group in optimizer.param_groups:
        if 'names' not in group:
            raise KeyError('optimizer wrappers save gradients by parameter name: build the optimizer with '
                           'build_optimizer (its parameter groups carry "names")')
        grads = group.get('grads') or [None] * len(group['params'])
        for name, param, grad in zip(group['names'], group['params'], grads):
            if not param.is_stop_grad():
                yield name, param, grad


@OPTIM_WRAPPERS.register_module()
class OptimWrapper:
    """Backward, gradient clipping, accumulation and the optimizer step.

    Args:
        optimizer: a Jittor optimizer (see :func:`build_optim_wrapper` to build one from a config).
        clip_grad: ``dict(max_norm=..., norm_type=2)`` clips the global gradient norm before each update.
        accumulative_counts: number of ``update_params`` calls whose gradients make one update.
    """

    def __init__(self, optimizer, clip_grad=None, accumulative_counts=1):
        if clip_grad is not None:
            clip_grad = dict(clip_grad)
            unknown = sorted(set(clip_grad) - set(_CLIP_KEYS))
            if unknown or 'max_norm' not in clip_grad:
                raise KeyError(f'optim_wrapper.clip_grad takes max_norm (required) and norm_type, got {clip_grad}')
            if not clip_grad['max_norm'] > 0:
                raise ValueError(f'optim_wrapper.clip_grad.max_norm must be > 0, got {clip_grad["max_norm"]}')
        if isinstance(accumulative_counts, bool) or not isinstance(accumulative_counts, int) \
                or accumulative_counts < 1:
            raise ValueError(f'optim_wrapper.accumulative_counts must be an integer >= 1, '
                             f'got {accumulative_counts!r}')
        self.optimizer = optimizer
        self.clip_grad = clip_grad
        self.accumulative_counts = accumulative_counts
        self.inner_count = 0  # update_params calls so far
        self.max_counts = None  # calls in the whole run, when known
        self._pending = False  # gradients accumulated since the last update
        self._restored_grads = None  # pending gradients read from a checkpoint, added at the next backward

    # ------------------------------------------------------------------ counting
    def initialize_count_status(self, inner_count, max_counts=None):
        """Say where the run stands: ``inner_count`` calls done, ``max_counts`` calls in all (or None)."""
        inner_count = int(inner_count)
        if self._restored_grads is not None and inner_count != self.inner_count:
            raise ValueError(f'the restored gradients belong to call {self.inner_count} of the optimizer wrapper, '
                             f'but the run is at call {inner_count}: the checkpoint is inconsistent')
        if inner_count % self.accumulative_counts and not self.has_pending_grads():
            get_logger().warning(
                f'starting at call {inner_count}, inside a group of {self.accumulative_counts} accumulated '
                f'batches, without the gradients of its first {inner_count % self.accumulative_counts}: '
                f'the next update averages fewer batches')
        self.inner_count = inner_count
        self.max_counts = None if max_counts is None else int(max_counts)

    def has_pending_grads(self):
        """Whether gradients were accumulated (or restored) that no update has used yet."""
        return self._pending or self._restored_grads is not None

    def _group_size(self):
        """Size of the accumulation group the next call belongs to (the run's last group may be shorter)."""
        if self.max_counts is not None:
            last_group_start = self.max_counts - self.max_counts % self.accumulative_counts
            if last_group_start <= self.inner_count < self.max_counts:
                return self.max_counts - last_group_start
        return self.accumulative_counts

    def should_update(self):
        """Whether the call just counted completes a group."""
        return (self.inner_count % self.accumulative_counts == 0
                or (self.max_counts is not None and self.inner_count == self.max_counts))

    def _undo_step_count(self):
        """Jittor's ``optimizer.backward`` adds 1 to ``optimizer.n_step`` on every call, and Adam/AdamW read
        ``n_step`` as the number of updates for their bias correction. An update counts once: a backward that
        does not start a group (accumulation), or a group whose update was skipped, takes its count back."""
        undo_step_count(self.optimizer)

    # ------------------------------------------------------------------ the step
    def optim_context(self, model):
        """The context of a training step's forward and backward passes (float32 here)."""
        return contextlib.nullcontext()

    def update_params(self, loss):
        """Backward of ``loss``; update when a group is complete. Returns whether the parameters changed."""
        group_size = self._group_size()
        self.backward(loss / group_size if group_size > 1 else loss)
        self.inner_count += 1
        if not self.should_update():
            return False
        return self.step()

    def backward(self, loss):
        """Add the gradients of ``loss`` to those accumulated so far."""
        continues_group = self.has_pending_grads()
        self.optimizer.backward(loss)
        if continues_group:
            self._undo_step_count()
        if self._restored_grads is not None:
            for name, _, grad in _trainable(self.optimizer):
                grad.update(grad + self._restored_grads[name])
            self._restored_grads = None
        self._pending = True

    def step(self):
        """Clip, update the parameters and clear the gradients; returns True (the parameters changed)."""
        if self.clip_grad is not None:
            self.optimizer.clip_grad_norm(**self.clip_grad)
        self.optimizer.step()  # Jittor's step() also clears the gradients
        self._pending = False
        return True

    def zero_grad(self):
        """Drop the accumulated gradients."""
        self.optimizer.zero_grad()
        self._pending = False
        self._restored_grads = None

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """Optimizer state (:func:`optimizer_state_dict`), call counter and, inside a group, its gradients."""
        grads = None
        if self._pending:
            grads = {name: grad.numpy() for name, _, grad in _trainable(self.optimizer)}
        elif self._restored_grads is not None:
            grads = {name: value.numpy() for name, value in self._restored_grads.items()}
        return dict(optimizer=optimizer_state_dict(self.optimizer),
                    accumulation=dict(count=self.inner_count, accumulative_counts=self.accumulative_counts,
                                      grads=grads))

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`."""
        load_optimizer_state_dict(self.optimizer, state['optimizer'])
        self._pending = False
        self._restored_grads = None
        accumulation = state['accumulation']
        self.inner_count = int(accumulation['count'])
        grads = accumulation.get('grads')
        if not grads:
            return
        if accumulation['accumulative_counts'] != self.accumulative_counts:
            raise ValueError(f'the checkpoint was written inside a group of {accumulation["accumulative_counts"]} '
                             f'accumulated batches; this run accumulates {self.accumulative_counts}. Resume with '
                             f'optim_wrapper.accumulative_counts={accumulation["accumulative_counts"]}')
        restored = {}
        for name, param, _ in _trainable(self.optimizer):
            if name not in grads:
                raise KeyError(f'the checkpoint has no accumulated gradient for parameter {name!r}')
            value = np.asarray(grads[name])
            if tuple(value.shape) != tuple(param.shape):
                raise ValueError(f'accumulated gradient of {name}: checkpoint shape {value.shape} != '
                                 f'{tuple(param.shape)}')
            restored[name] = jt.array(value).cast(param.dtype).stop_grad()
        extra = sorted(set(grads) - set(restored))
        if extra:
            raise KeyError(f'the checkpoint has accumulated gradients of parameters the model does not train: '
                           f'{extra[:5]}')
        self._restored_grads = restored


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """:class:`OptimWrapper` with a dynamic loss scale for float16 gradients (``amp``).

    The loss is multiplied by the scale before the backward pass; before an update the gradients are divided by
    it and checked: an update whose gradients overflowed is skipped and the scale lowered
    (:class:`DynamicLossScaler`; ``loss_scale`` holds its arguments). :meth:`optim_context` runs the step with
    Jittor's automatic float16 at ``level`` (the Runner allows ``amp`` on CUDA only).
    """

    def __init__(self, optimizer, loss_scale=None, level=5, **kwargs):
        super().__init__(optimizer, **kwargs)
        self.loss_scaler = DynamicLossScaler(**dict(loss_scale or {}))
        self.level = int(level)

    def optim_context(self, model):
        return float16_scope(self.level)

    def backward(self, loss):
        super().backward(loss * self.loss_scaler.scale)

    def step(self):
        scaler = self.loss_scaler
        finite = scaler.unscale_and_check(self.optimizer)
        if finite:
            super().step()
        else:
            get_logger().warning(f'call {self.inner_count}: fp16 gradients overflowed; update skipped, loss scale '
                                 f'lowered to {scaler.scale * scaler.backoff_factor:g}')
            self.zero_grad()
            self._undo_step_count()
        scaler.update(finite)
        return finite

    def state_dict(self):
        return dict(super().state_dict(), loss_scaler=self.loss_scaler.state_dict())

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if state.get('loss_scaler'):  # absent when the checkpoint's run did not use amp
            self.loss_scaler.load_state_dict(state['loss_scaler'])


def build_optim_wrapper(model, cfg, **default_args):
    """Build the optimizer of ``cfg['optimizer']`` (with ``cfg['paramwise_cfg']``) for ``model``, and the wrapper
    ``cfg['type']`` (default ``OptimWrapper``) around it with the remaining keys."""
    cfg = dict(cfg)
    cfg.setdefault('type', 'OptimWrapper')
    optimizer = build_optimizer(model, cfg)
    cfg.pop('optimizer')
    cfg.pop('paramwise_cfg', None)
    return OPTIM_WRAPPERS.build(cfg, optimizer=optimizer, **default_args)
