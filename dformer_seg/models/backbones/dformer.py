"""DFormer (v1) RGB-D backbone.

Two streams run side by side: an RGB stream with ``dims[i]`` channels and a
depth stream with ``dims[i] // 2`` channels. Each block mixes them in its
attention (the depth features gate part of the RGB query and, where a stage
has a window, both streams form the pooled queries of a global attention).
Blocks work on channels-last (NHWC) tensors, in the same order of operations
as the official PyTorch implementation so that float32 results agree; only
the RGB stream's features are returned. Linear layers, norms, GELU,
depth-wise and downsampling convs and attention go through
:mod:`dformer_seg.ops` (fast CPU kernels, plain Jittor elsewhere): the maps
stay channels-last between the stems and the returned features, and the
gating products run inside the Linear kernels. The sub-modules keep the
reference's call signatures (``attn(x, x_e)``, ``mlp(x)``); the block runs
each layer-scaled residual inside the GEMM of its branch's last Linear
(:meth:`DFormerBlock.add_branch`).

State-dict names and shapes equal those of the official checkpoints with the
``backbone.`` prefix removed (BatchNorm ``num_batches_tracked`` excepted).
"""

import jittor as jt
import numpy as np
from jittor import nn

from ... import ops
from ...registry import BACKBONES
from ..utils import DropPath, build_norm_layer, resampling_matrix

# Variants of the official ``DFormer_Tiny`` ... ``DFormer_Large`` factories.
ARCH_SETTINGS = {
    'tiny': dict(dims=(32, 64, 128, 256), depths=(3, 3, 5, 2)),
    'small': dict(dims=(64, 128, 256, 512), depths=(2, 2, 4, 2)),
    'base': dict(dims=(64, 128, 256, 512), depths=(3, 3, 12, 2)),
    'large': dict(dims=(96, 192, 288, 576), depths=(3, 3, 12, 2)),
}
for _setting in ARCH_SETTINGS.values():
    _setting.update(mlp_ratios=(8, 8, 4, 4), num_heads=(1, 2, 4, 8), windows=(0, 7, 7, 7))

NUM_STAGES = 4
LAYER_SCALE_INIT = 1e-6


class ChannelsLastLayerNorm(nn.Module):
    """LayerNorm over the last axis (two-pass mean/variance, biased), eps 1e-6 as in DFormer."""

    def __init__(self, num_channels, eps=1e-6):
        super().__init__()
        self.weight = jt.ones(num_channels)
        self.bias = jt.zeros(num_channels)
        self.eps = eps

    def execute(self, x):
        return ops.layer_norm(x, self.weight, self.bias, self.eps)


def resample_nhwc(kind, x, out_hw):
    """Resample an NHWC map to ``out_hw`` along W, then along H: two batched matrix products.

    ``kind``: 'pool' (PyTorch's adaptive average pooling) or 'bilinear'
    (``align_corners=False``). Jittor's own AdaptiveAvgPool2d uses equal strides
    and breaks when the input is smaller than the output (stage 4 of a small
    image); the matrices follow PyTorch's index rules, and on channels-last maps
    the products need no transposes.
    """
    batch, height, width, channels = x.shape
    out_h, out_w = out_hw
    cols = jt.array(resampling_matrix(kind, width, out_w))
    rows = jt.array(resampling_matrix(kind, height, out_h))
    x = ops.matmul(cols.broadcast((batch * height, out_w, width)), x.reshape(batch * height, width, channels))
    x = ops.matmul(rows.broadcast((batch, out_h, height)), x.reshape(batch, height, out_w * channels))
    return x.reshape(batch, out_h, out_w, channels)


def pool_window_tokens(sources, window):
    """Adaptive average pooling of NHWC maps of one size to (B, window * window, sum of their channels)."""
    pooled = jt.concat([resample_nhwc('pool', x, (window, window)) for x in sources], dim=3)
    return pooled.reshape(pooled.shape[0], window * window, pooled.shape[3])


pool_window_tokens.thop_equivalent = 'AdaptiveAvgPool2d'  # nn.AdaptiveAvgPool2d of the reference's window branch


def depthwise_conv_nhwc(conv, x, residual=None, activation=None):
    """Apply the depth-wise ``nn.Conv2d`` ``conv`` (it holds the parameters) to an NHWC tensor.

    ``residual`` is added and ``activation`` (None or 'gelu') applied in the same pass.
    """
    return ops.depthwise_conv2d_nhwc(x, conv.weight, conv.bias, conv.padding, residual=residual,
                                     activation=activation)


class ConvFFN(nn.Module):
    """LayerNorm -> Linear -> depthwise 3x3 conv (residual) -> GELU -> Linear, on NHWC input (reference: MLP)."""

    def __init__(self, dim, mlp_ratio):
        super().__init__()
        hidden = dim * mlp_ratio
        self.norm = ChannelsLastLayerNorm(dim)
        self.fc1 = ops.Linear(dim, hidden)
        self.pos = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = ops.Linear(hidden, dim)

    def hidden(self, x):
        """The input of ``fc2``: ``GELU(pos(h) + h)`` with ``h = fc1(norm(x))``, the sum and GELU in the conv's pass."""
        x = self.fc1(self.norm(x))
        return depthwise_conv_nhwc(self.pos, x, residual=x, activation='gelu')

    def execute(self, x):
        return self.fc2(self.hidden(x))


class RGBDAttention(nn.Module):
    """DFormer's attention mixing an RGB stream (``dim``) and a depth stream (``dim // 2``).

    * local branch: ``q(x) * Linear(dwconv7x7(GELU(l(x))))``;
    * depth branch: ``q_cut(x)`` gated by an MLP/dwconv of the depth features;
    * with ``window > 0``, a global branch: both streams are pooled to
      ``window x window`` queries that attend over every position of the
      GELU(l(x)) keys/values, and the result is upsampled back (bilinear).

    The official code always pools to 7x7 and reshapes with ``window``, so it
    only runs with ``window`` 0 or 7; pooling to ``window`` gives the same
    result for 7 and also works for other sizes.

    ``with_depth_output=False`` (the last block of the network) drops the
    depth projection, and ``execute`` then returns ``None`` for the depth stream.
    """

    def __init__(self, dim, num_heads, window, with_depth_output=True):
        super().__init__()
        if dim % 2:
            raise ValueError(f'DFormer attention needs an even channel count, got {dim}')
        half = dim // 2
        self.num_heads = num_heads
        self.window = window
        self.with_depth_output = with_depth_output

        self.q = ops.Linear(dim, dim)
        self.q_cut = ops.Linear(dim, half)
        self.a = ops.Linear(dim, dim)
        self.l = ops.Linear(dim, dim, activation='gelu')  # noqa: E741  (official name); computes GELU(l(x))
        self.conv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.e_conv = nn.Conv2d(half, half, 7, padding=3, groups=half)
        self.e_fore = ops.Linear(half, half)
        self.e_back = ops.Linear(half, half)
        concat_dim = dim * 2 if window else dim + half
        self.proj = ops.Linear(concat_dim, dim)
        if with_depth_output:
            self.proj_e = ops.Linear(concat_dim, half)
        if window:
            if half % num_heads:
                raise ValueError(f'dim // 2 = {half} must be divisible by num_heads = {num_heads}')
            self.head_dim = half // num_heads
            self.short_cut_linear = ops.Linear(dim + half, half)
            self.kv = ops.Linear(dim, dim)
        self.norm = ChannelsLastLayerNorm(dim)
        self.norm_e = ChannelsLastLayerNorm(half)

    def global_branch(self, x, x_e, source):
        """Window queries pooled from ``x`` and ``x_e`` attending over every position of ``source``.

        All three are NHWC; the result is NHWC with ``dim // 2`` channels.
        """
        batch, height, width, channels = source.shape
        heads, head_dim, window = self.num_heads, self.head_dim, self.window
        kv = self.kv(source)
        kv = kv.reshape(batch, height * width, 2, heads, head_dim).permute(2, 0, 3, 1, 4)
        keys, values = kv[0], kv[1]
        queries = self.short_cut_linear(pool_window_tokens([x, x_e], window))  # (B, window^2, dim // 2)
        queries = queries.reshape(batch, -1, heads, head_dim).permute(0, 2, 1, 3)
        out = ops.attention(queries * head_dim ** -0.5, keys, values)  # (B, heads, window^2, head_dim)
        out = out.permute(0, 2, 1, 3).reshape(batch, window, window, channels // 2)
        return resample_nhwc('bilinear', out, (height, width))

    def mixed_features(self, x, x_e):
        """The concatenated local, global (with a window) and depth-gated branches that ``proj`` and
        ``proj_e`` map to the outputs: everything of :meth:`execute` but the two output projections."""
        x = self.norm(x)
        x_e = self.norm_e(x_e)
        features = self.l(x)  # GELU included
        local = self.a(depthwise_conv_nhwc(self.conv, features), multiplier=self.q(x))  # q(x) * a(conv(.))
        depth_gated = self.e_back(depthwise_conv_nhwc(self.e_conv, self.e_fore(x_e)), multiplier=self.q_cut(x))
        if self.window:
            parts = [local, self.global_branch(x, x_e, features), depth_gated]
        else:
            parts = [local, depth_gated]
        return jt.concat(parts, dim=3)

    def execute(self, x, x_e):
        """Returns the RGB output and the depth output (``None`` without ``with_depth_output``)."""
        mixed = self.mixed_features(x, x_e)
        x_e = self.proj_e(mixed) if self.with_depth_output else None
        return self.proj(mixed), x_e


class DFormerBlock(nn.Module):
    """Attention and FFN residuals with layer scale, on both streams (NHWC) (reference: Block).

    The sub-modules compute what the reference's do (``attn(x, x_e)``,
    ``mlp(x)``); :meth:`execute` does not call them whole but feeds each
    branch's last Linear itself, so that :meth:`add_branch` can run the
    layer-scaled residual inside that Linear's GEMM.
    """

    def __init__(self, dim, num_heads, mlp_ratio, window, drop_path, with_depth_output=True):
        super().__init__()
        self.with_depth_output = with_depth_output
        self.attn = RGBDAttention(dim, num_heads, window, with_depth_output)
        self.mlp = ConvFFN(dim, mlp_ratio)
        # One module, sampled independently at each of the four residuals.
        self.dropout_layer = DropPath(drop_path)
        self.layer_scale_1 = jt.full((dim,), LAYER_SCALE_INIT)
        self.layer_scale_2 = jt.full((dim,), LAYER_SCALE_INIT)
        if with_depth_output:
            self.layer_scale_1_e = jt.full((dim // 2,), LAYER_SCALE_INIT)
            self.layer_scale_2_e = jt.full((dim // 2,), LAYER_SCALE_INIT)
            self.mlp_e2 = ConvFFN(dim // 2, mlp_ratio)

    def add_branch(self, residual, layer_scale, last_linear, features):
        """``residual + dropout_layer(layer_scale * last_linear(features))`` as one ``last_linear`` call.

        Replaces the reference's
        ``x = res_x + self.dropout_layer(self.layer_scale_1.unsqueeze(0).unsqueeze(0) * x)``
        and its three siblings (``layer_scale_2`` with ``self.mlp(x)``, the
        ``_e`` pair on the depth stream), whose branch output ``x`` is
        ``last_linear(features)``: ``ops.Linear`` applies the scale and adds the
        residual while its GEMM stores the output, with the stochastic-depth
        mask folded into the scale (``DropPath.branch_scale``).
        """
        scale = self.dropout_layer.branch_scale(layer_scale, residual)
        return last_linear(features, multiplier=scale, residual=residual)

    def execute(self, x, x_e):
        # The four residuals in the reference's order, which is also the order of their stochastic-depth
        # masks (so that a seed gives the same masks). attn(x, x_e) is (attn.proj(mixed), attn.proj_e(mixed)).
        mixed = self.attn.mixed_features(x, x_e)
        x = self.add_branch(x, self.layer_scale_1, self.attn.proj, mixed)
        x = self.add_branch(x, self.layer_scale_2, self.mlp.fc2, self.mlp.hidden(x))
        if not self.with_depth_output:
            return x, None
        x_e = self.add_branch(x_e, self.layer_scale_1_e, self.attn.proj_e, mixed)
        x_e = self.add_branch(x_e, self.layer_scale_2_e, self.mlp_e2.fc2, self.mlp_e2.hidden(x_e))
        return x, x_e


def _rgb_stem(dims, norm_cfg):
    return nn.Sequential(
        nn.Conv2d(3, dims[0] // 2, 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, dims[0] // 2),
        ops.GELU(),
        nn.Conv2d(dims[0] // 2, dims[0], 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, dims[0]),
    )


def _depth_stem(dims, norm_cfg):
    return nn.Sequential(
        nn.Conv2d(1, dims[0] // 4, 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, dims[0] // 4),
        ops.GELU(),
        nn.Conv2d(dims[0] // 4, dims[0] // 2, 3, stride=2, padding=1),
        build_norm_layer(norm_cfg, dims[0] // 2),
    )


def _downsample(in_channels, out_channels, norm_cfg):
    return nn.Sequential(
        build_norm_layer(norm_cfg, in_channels),
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
    )


def downsample_nhwc(layers, x):
    """Apply a ``_downsample`` pair (norm, stride-2 conv) to an NHWC map, NHWC out, without transposes.

    A BatchNorm normalises each channel over all other axes, so it runs on the
    (N * H * W, C) view; other norms get the NCHW tensor they expect.
    """
    norm, conv = layers
    batch, height, width, channels = x.shape
    if isinstance(norm, nn.BatchNorm):
        x = norm(x.reshape(batch * height * width, channels)).reshape(batch, height, width, channels)
    else:
        x = norm(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
    return ops.conv2d_nhwc(x, conv.weight, conv.bias, conv.stride, conv.padding)


@BACKBONES.register_module()
class DFormer(nn.Module):
    """DFormer v1 backbone: ``execute(img, depth)`` -> features at strides 4, 8, 16, 32.

    Args:
        arch: 'tiny' | 'small' | 'base' | 'large' (the official variants) or None.
        dims, mlp_ratios, depths, num_heads, windows: per-stage settings (4 each);
            given ones override the ``arch`` table; all are required when ``arch`` is None.
        drop_path_rate: stochastic depth, rising linearly from 0 over all blocks.
        norm_cfg: norm of the stems and downsampling layers (BN / SyncBN ...).
        out_indices: which stage outputs to return.
        last_block: per stage, only the last ``last_block[i]`` blocks keep their
            window attention (official default 50, like None: all of them).
        keep_final_depth: the last block keeps its depth output as well (RGB-D pretraining
            classifies from both streams, see :meth:`execute_streams`); segmentation uses
            the RGB stream only and, like the official encoder, leaves it out (False).
    """

    def __init__(self, arch=None, dims=None, mlp_ratios=None, depths=None, num_heads=None, windows=None,
                 drop_path_rate=0.1, norm_cfg=dict(type='BN', requires_grad=True), out_indices=(0, 1, 2, 3),
                 last_block=(50, 50, 50, 50), keep_final_depth=False):
        super().__init__()
        settings = self._resolve_settings(arch, dims=dims, mlp_ratios=mlp_ratios, depths=depths,
                                          num_heads=num_heads, windows=windows, last_block=last_block)
        dims, depths = settings['dims'], settings['depths']
        if dims[0] % 4:
            raise ValueError(f'dims[0] must be divisible by 4 (depth stem uses dims[0] // 4), got {dims[0]}')
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(NUM_STAGES) for i in out_indices):
            raise ValueError(f'out_indices must be a non-empty subset of 0..{NUM_STAGES - 1}, got {out_indices}')
        self.arch = arch
        self.dims = dims
        self.depths = depths
        self.out_indices = out_indices
        # Peak memory of a whole-image forward without gradients, per input pixel (measured on the CPU: 17.4 x
        # dims[0] for DFormer-T at 480x640 and 960x1280); the segmentor refuses inputs that cannot fit.
        self.inference_bytes_per_pixel = 18 * dims[0]
        self.keep_final_depth = bool(keep_final_depth)

        self.downsample_layers = nn.ModuleList([_rgb_stem(dims, norm_cfg)])
        self.downsample_layers_e = nn.ModuleList([_depth_stem(dims, norm_cfg)])
        for i in range(NUM_STAGES - 1):
            self.downsample_layers.append(_downsample(dims[i], dims[i + 1], norm_cfg))
            self.downsample_layers_e.append(_downsample(dims[i] // 2, dims[i + 1] // 2, norm_cfg))

        total_blocks = sum(depths)
        drop_rates = np.linspace(0.0, drop_path_rate, total_blocks, dtype=np.float32).tolist()
        self.stages = nn.ModuleList()
        block_id = 0
        for i in range(NUM_STAGES):
            blocks = []
            for j in range(depths[i]):
                window = settings['windows'][i] if depths[i] - j <= settings['last_block'][i] else 0
                blocks.append(DFormerBlock(
                    dims[i], settings['num_heads'][i], settings['mlp_ratios'][i], window,
                    drop_path=drop_rates[block_id],
                    with_depth_output=keep_final_depth or block_id != total_blocks - 1))
                block_id += 1
            self.stages.append(nn.Sequential(*blocks))

    @staticmethod
    def _resolve_settings(arch, **overrides):
        if arch is not None:
            if arch not in ARCH_SETTINGS:
                raise KeyError(f'unknown DFormer arch {arch!r}; choose one of {sorted(ARCH_SETTINGS)} '
                               'or pass dims/mlp_ratios/depths/num_heads/windows with arch=None')
            settings = dict(ARCH_SETTINGS[arch])
        else:
            settings = {}
        settings.update({k: v for k, v in overrides.items() if v is not None})
        if overrides['last_block'] is None and 'depths' in settings:
            settings['last_block'] = settings['depths']  # every block keeps its window
        missing = [k for k in ('dims', 'mlp_ratios', 'depths', 'num_heads', 'windows', 'last_block')
                   if k not in settings]
        if missing:
            raise ValueError(f'DFormer with arch=None needs {missing}')
        for key, value in settings.items():
            value = tuple(int(v) for v in value)
            if len(value) != NUM_STAGES:
                raise ValueError(f'DFormer {key} needs {NUM_STAGES} entries (one per stage), got {value}')
            settings[key] = value
        return settings

    def execute(self, img, depth):
        return self.execute_streams(img, depth)[0]

    def execute_streams(self, img, depth):
        """``(outs, final depth features)``: the RGB features of ``out_indices`` and the depth stream's
        last-stage output (NCHW, ``dims[-1] // 2`` channels; None unless ``keep_final_depth``)."""
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError(f'DFormer expects img of shape (B, 3, H, W), got {tuple(img.shape)}')
        if depth is None or depth.ndim != 4:
            shape = None if depth is None else tuple(depth.shape)
            raise ValueError(f'DFormer expects depth of shape (B, 1 or 3, H, W), got {shape}')
        if depth.shape[0] != img.shape[0] or tuple(depth.shape[2:]) != tuple(img.shape[2:]):
            raise ValueError(f'img {tuple(img.shape)} and depth {tuple(depth.shape)} differ in batch or size')
        x = self.downsample_layers[0](img).permute(0, 2, 3, 1)
        x_e = self.downsample_layers_e[0](depth[:, 0:1]).permute(0, 2, 3, 1)
        outs = []
        for i in range(NUM_STAGES):
            if i > 0:
                x = downsample_nhwc(self.downsample_layers[i], x)
                x_e = downsample_nhwc(self.downsample_layers_e[i], x_e)
            for block in self.stages[i]:
                x, x_e = block(x, x_e)
            if i in self.out_indices:
                outs.append(x.permute(0, 3, 1, 2))
        return outs, (x_e.permute(0, 3, 1, 2) if self.keep_final_depth else None)
