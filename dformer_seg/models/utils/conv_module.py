"""Conv + norm + activation block and the norm/activation builders.

Norm configs follow mmcv: ``dict(type='BN' | 'SyncBN' | 'GN' | 'LN', eps=..,
momentum=.., requires_grad=..)``. Parameter names match PyTorch
(``weight``, ``bias``, ``running_mean``, ``running_var``) so that official
checkpoints load unchanged.
"""
import jittor as jt
from jittor import nn

from ... import ops
from ...utils.dist import world_size


class BatchNorm(nn.BatchNorm):
    """``jt.nn.BatchNorm`` (same parameters and state) whose training step on (N, C, H, W) maps runs
    ``ops.batch_norm_train``: the statistics, the normalisation and their gradients on all threads, with the
    variance of the centred values (Jittor's E[x^2] - mean^2 loses the variance of a channel whose mean is large
    against its spread). Synchronised statistics across MPI processes, and every other case, keep Jittor's code."""

    def execute(self, x):
        if not self.is_train or (self.sync and jt.in_mpi) or not self.affine or x.ndim != 4:
            return super().execute(x)
        y, mean, var = ops.batch_norm_train(x, self.weight, self.bias, self.eps)
        self.running_mean.update(self.running_mean + (mean - self.running_mean) * self.momentum)
        self.running_var.update(self.running_var + (var - self.running_var) * self.momentum)
        return y


def build_norm_layer(norm_cfg, num_features):
    """Build a normalization layer over channel dim 1 from ``norm_cfg``."""
    if norm_cfg is None:
        raise ValueError('build_norm_layer needs a norm_cfg such as dict(type="BN")')
    cfg = dict(norm_cfg)
    layer_type = cfg.pop('type')
    requires_grad = cfg.pop('requires_grad', True)
    if layer_type in ('BN', 'BN2d', 'SyncBN'):
        # SyncBN reduces statistics across MPI processes; in a single process it is plain BN.
        sync = layer_type == 'SyncBN' and world_size() > 1
        layer = BatchNorm(num_features, eps=cfg.pop('eps', 1e-5), momentum=cfg.pop('momentum', 0.1), sync=sync)
    elif layer_type == 'GN':
        layer = nn.GroupNorm(cfg.pop('num_groups'), num_features, eps=cfg.pop('eps', 1e-5))
    elif layer_type == 'LN':
        layer = nn.LayerNorm(num_features, eps=cfg.pop('eps', 1e-5))
    else:
        raise KeyError(f'unknown norm type {layer_type!r}; use BN, SyncBN, GN or LN')
    if cfg:
        raise TypeError(f'unexpected keys in norm_cfg for {layer_type}: {sorted(cfg)}')
    if not requires_grad:
        for p in layer.parameters():
            p.stop_grad()
    return layer


def build_activation_layer(act_cfg):
    cfg = dict(act_cfg)
    act_type = cfg.pop('type')
    if act_type == 'ReLU':
        cfg.pop('inplace', None)
        return nn.ReLU()
    if act_type == 'GELU':
        return nn.GELU()
    if act_type == 'LeakyReLU':
        return nn.LeakyReLU(cfg.pop('negative_slope', 0.01))
    if act_type == 'Sigmoid':
        return nn.Sigmoid()
    raise KeyError(f'unknown activation type {act_type!r}; use ReLU, GELU, LeakyReLU or Sigmoid')


class ConvModule(nn.Module):
    """conv -> norm -> activation, with the submodule names mmcv uses (conv, bn/gn/ln, activate)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias='auto', norm_cfg=None, act_cfg=dict(type='ReLU')):
        super().__init__()
        if bias == 'auto':
            bias = norm_cfg is None
        # ops.Conv2d: an nn.Conv2d that runs 1x1 convs as GEMMs on the CPU.
        self.conv = ops.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                               dilation=dilation, groups=groups, bias=bias)
        self.norm_name = None
        if norm_cfg is not None:
            self.norm_name = {'BN': 'bn', 'BN2d': 'bn', 'SyncBN': 'bn', 'GN': 'gn', 'LN': 'ln'}[norm_cfg['type']]
            setattr(self, self.norm_name, build_norm_layer(norm_cfg, out_channels))
        self.activate = build_activation_layer(act_cfg) if act_cfg is not None else None

    def execute(self, x):
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        if self.activate is not None:
            x = self.activate(x)
        return x
