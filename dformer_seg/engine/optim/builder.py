"""Optimizers with parameter-wise settings, and their (de)serialisation.

``build_optimizer(model, optim_wrapper_cfg)`` reads::

    optim_wrapper = dict(
        optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                           custom_keys={'backbone': dict(lr_mult=0.1)}),
        clip_grad=None)

Parameters with equal ``(lr_mult, decay_mult)`` share one group. Every group
records its configured rate as ``initial_lr`` (the scheduler scales from it)
and the names of its parameters (the optimizer state is saved by name).
"""
import jittor as jt
import numpy as np
from jittor import nn

from ...ops.optimizer import adamw_step
from ...registry import OPTIMIZERS
from ...utils.jittor_internals import ADAM_STATE_SLOTS, adam_state


class AdamW(jt.optim.AdamW):
    """``jt.optim.AdamW`` (same arguments, state and results) whose per-parameter update is one multi-threaded
    kernel on the CPU (``ops.optimizer.adamw_step``; elsewhere its plain form, Jittor's own expressions)."""

    def step(self, loss=None, retain_graph=False):
        self.pre_step(loss, retain_graph)
        step = float(self.n_step)
        for group in self.param_groups:
            lr = group.get('lr', self.lr)
            eps = group.get('eps', self.eps)
            weight_decay = group.get('weight_decay', self.weight_decay)
            beta1, beta2 = group.get('betas', self.betas)
            for param, grad, exp_avg, exp_avg_sq in zip(*adam_state(group)):
                if param.is_stop_grad():
                    continue
                new_param, new_exp_avg, new_exp_avg_sq = adamw_step(param, grad, exp_avg, exp_avg_sq, lr, beta1,
                                                                    beta2, eps, weight_decay, step)
                param.update(new_param)
                exp_avg.update(new_exp_avg)
                exp_avg_sq.update(new_exp_avg_sq)
        self.post_step()


OPTIMIZERS.register_module(name='AdamW', module=AdamW)
OPTIMIZERS.register_module(name='Adam', module=jt.optim.Adam)
OPTIMIZERS.register_module(name='SGD', module=jt.optim.SGD)

_NORM_TYPES = tuple(t for t in (getattr(nn, name, None) for name in (
    'BatchNorm', 'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'LayerNorm', 'GroupNorm',
    'InstanceNorm', 'InstanceNorm1d', 'InstanceNorm2d', 'InstanceNorm3d')) if isinstance(t, type))
_PARAMWISE_KEYS = {'norm_decay_mult', 'bias_decay_mult', 'custom_keys'}


def is_norm_layer(module):
    """Jittor's norm layers, plus any project layer whose class name says it is one (``LayerNorm2d``)."""
    return isinstance(module, _NORM_TYPES) or 'Norm' in type(module).__name__


def _param_multipliers(name, owner, paramwise_cfg):
    lr_mult, decay_mult = 1.0, 1.0
    custom_keys = paramwise_cfg.get('custom_keys') or {}
    # The longest matching key wins, so 'backbone.stem' can refine 'backbone'.
    for key in sorted(custom_keys, key=len, reverse=True):
        if key in name:
            lr_mult = custom_keys[key].get('lr_mult', 1.0)
            decay_mult = custom_keys[key].get('decay_mult', 1.0)
            break
    else:
        is_bias = name.rsplit('.', 1)[-1] == 'bias'
        if is_norm_layer(owner) and 'norm_decay_mult' in paramwise_cfg:
            decay_mult = paramwise_cfg['norm_decay_mult']
        elif is_bias and 'bias_decay_mult' in paramwise_cfg:
            decay_mult = paramwise_cfg['bias_decay_mult']
    return float(lr_mult), float(decay_mult)


def build_param_groups(model, base_lr, base_wd, paramwise_cfg=None):
    """Group the trainable parameters of ``model`` by their (lr, weight decay)."""
    paramwise_cfg = dict(paramwise_cfg or {})
    unknown = set(paramwise_cfg) - _PARAMWISE_KEYS
    if unknown:
        raise KeyError(f'unknown paramwise_cfg keys {sorted(unknown)}; known: {sorted(_PARAMWISE_KEYS)}')
    modules = dict(model.named_modules())
    groups = {}
    for name, param in model.named_parameters():
        if param.is_stop_grad():
            continue  # frozen parameters and buffers such as BN running statistics
        owner = modules.get(name.rsplit('.', 1)[0] if '.' in name else '', model)
        lr_mult, decay_mult = _param_multipliers(name, owner, paramwise_cfg)
        group = groups.setdefault((lr_mult, decay_mult), dict(
            params=[], names=[], lr=base_lr * lr_mult, initial_lr=base_lr * lr_mult,
            weight_decay=base_wd * decay_mult))
        group['params'].append(param)
        group['names'].append(name)
    if not groups:
        raise ValueError(f'{type(model).__name__} has no trainable parameters to optimize')
    return list(groups.values())


def build_optimizer(model, optim_wrapper_cfg):
    """Build the optimizer described by ``optim_wrapper_cfg['optimizer']`` for ``model``."""
    if 'optimizer' not in optim_wrapper_cfg:
        raise KeyError('optim_wrapper needs an "optimizer" dict, e.g. dict(type="AdamW", lr=6e-5)')
    optimizer_cfg = dict(optim_wrapper_cfg['optimizer'])
    if 'lr' not in optimizer_cfg:
        raise KeyError(f'optim_wrapper.optimizer has no "lr": {optimizer_cfg}')
    groups = build_param_groups(model, optimizer_cfg['lr'], optimizer_cfg.get('weight_decay', 0.0),
                                optim_wrapper_cfg.get('paramwise_cfg'))
    return OPTIMIZERS.build(optimizer_cfg, params=groups)


def optimizer_state_dict(optimizer):
    """The optimizer's step count and per-parameter state (numpy), keyed by parameter name."""
    state = {}
    for group in optimizer.param_groups:
        for slot in ADAM_STATE_SLOTS:
            if slot in group:
                for name, value in zip(group['names'], group[slot]):
                    state[f'{slot}/{name}'] = value.numpy()
    return dict(type=type(optimizer).__name__, n_step=int(optimizer.n_step), state=state)


def load_optimizer_state_dict(optimizer, saved):
    """Restore what ``optimizer_state_dict`` saved; the parameters must match by name and shape."""
    if saved.get('type') != type(optimizer).__name__:
        raise ValueError(f'checkpoint optimizer is {saved.get("type")}, the config builds '
                         f'{type(optimizer).__name__}; resume needs the same optimizer (use --load-from '
                         f'to start from the weights only)')
    state = saved['state']
    expected = set()
    for group in optimizer.param_groups:
        for slot in ADAM_STATE_SLOTS:
            if slot not in group:
                continue
            for name, var in zip(group['names'], group[slot]):
                key = f'{slot}/{name}'
                expected.add(key)
                if key not in state:
                    raise KeyError(f'optimizer state for parameter {name!r} is missing from the checkpoint')
                value = np.asarray(state[key])
                if tuple(value.shape) != tuple(var.shape):
                    raise ValueError(f'optimizer state {key}: checkpoint shape {value.shape} != {tuple(var.shape)}')
                var.update(jt.array(value).cast(var.dtype))
    extra = sorted(set(state) - expected)
    if extra:
        raise KeyError(f'checkpoint has optimizer state for parameters the model does not train: {extra[:5]}')
    optimizer.n_step = int(saved['n_step'])
