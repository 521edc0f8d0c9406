"""DFormerv2: the RGB-D backbone built on geometry self-attention.

Port of the official ``dformerv2`` encoder (VCIP-RGBD/DFormer,
``models/encoders/DFormerv2.py``). The RGB image goes through a convolutional
stem and four stages of attention blocks; the depth map never gets its own
stream. Instead every block turns the (resized) depth map into a *geometry
prior*: an additive attention bias that decays with the spatial distance and
the depth difference between two positions, plus a rotary position code.
Stages 0-2 attend along rows and columns separately ("decomposed"), stage 3
attends over all positions at once.

Tensors inside the stages are channels-last ``(B, H, W, C)`` as in the
reference; the outputs are NCHW. Attention, norms, GELU, depth-wise convs
and resizing go through :mod:`dformer_seg.ops` (fast CPU kernels, plain
Jittor elsewhere); attention runs with the heads ahead of the rows or
columns, so that the geometry masks are used in the layout they are built in. Attribute names follow the reference so
that official checkpoints load unchanged (after stripping ``backbone.``).
The order of floating-point operations follows the reference as well, so
that float32 results agree with it to rounding.
"""
from collections import namedtuple

import jittor as jt
import numpy as np
from jittor import nn

from ... import ops
from ...registry import BACKBONES
from ..utils import DropPath, build_norm_layer, resize

NUM_STAGES = 4

# Official variants (DFormerv2_S / _B / _L in the reference).
ARCH_SETTINGS = {
    'S': dict(embed_dims=[64, 128, 256, 512], depths=[3, 4, 18, 4], num_heads=[4, 4, 8, 16],
              heads_ranges=[4, 4, 6, 6], layerscales=[False, False, False, False]),
    'B': dict(embed_dims=[80, 160, 320, 512], depths=[4, 8, 25, 8], num_heads=[5, 5, 10, 16],
              heads_ranges=[5, 5, 6, 6], layerscales=[False, False, True, True]),
    'L': dict(embed_dims=[112, 224, 448, 640], depths=[4, 8, 25, 8], num_heads=[7, 7, 14, 20],
              heads_ranges=[6, 6, 6, 6], layerscales=[False, False, True, True]),
}
# Per-stage settings shared by every official variant.
COMMON_STAGE_DEFAULTS = dict(init_values=[2, 2, 2, 2], mlp_ratios=[4, 4, 3, 3],
                             layerscales=[False, False, False, False])
REQUIRED_WITHOUT_ARCH = ('embed_dims', 'depths', 'num_heads', 'heads_ranges')


class LayerNorm(nn.LayerNorm):
    """LayerNorm over the last dimension with PyTorch's arithmetic.

    Jittor's own LayerNorm computes the variance as E[x^2] - E[x]^2, which
    loses precision when the mean is large compared with the spread; here the
    variance is taken around the mean, as PyTorch does.
    """

    thop_equivalent = 'LayerNorm'  # torch.nn.LayerNorm in the reference: its FLOPs count in the papers' convention

    def execute(self, x):
        return ops.layer_norm(x, self.weight, self.bias, self.eps)


class ChannelsLastDWConv(nn.Module):
    """Depth-wise conv applied to a (B, H, W, C) tensor (reference: DWConv2d)."""

    def __init__(self, dim, kernel_size, padding):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, stride=1, padding=padding, groups=dim)

    def execute(self, x):
        return ops.depthwise_conv2d_nhwc(x, self.dwconv.weight, self.dwconv.bias, self.dwconv.padding)


def dwconv_plus_input(conv, x):
    """``x + conv(x)`` for a :class:`ChannelsLastDWConv`, the sum done in the conv's own pass over memory
    (reference: ``x = x + self.cnn_pos_encode(x)``, and in the FFN ``residual = x; x = self.dwconv(x);
    x = x + residual``)."""
    return ops.depthwise_conv2d_nhwc(x, conv.dwconv.weight, conv.dwconv.bias, conv.dwconv.padding, residual=x)


class PatchEmbed(nn.Module):
    """Stem: four 3x3 convs (two with stride 2) -> (B, H/4, W/4, C), channels last."""

    def __init__(self, in_channels, embed_dim, norm_cfg):
        super().__init__()
        half = embed_dim // 2
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, half, 3, stride=2, padding=1), build_norm_layer(norm_cfg, half), ops.GELU(),
            nn.Conv2d(half, half, 3, stride=1, padding=1), build_norm_layer(norm_cfg, half), ops.GELU(),
            nn.Conv2d(half, embed_dim, 3, stride=2, padding=1), build_norm_layer(norm_cfg, embed_dim), ops.GELU(),
            nn.Conv2d(embed_dim, embed_dim, 3, stride=1, padding=1), build_norm_layer(norm_cfg, embed_dim),
        )

    def execute(self, x):
        return self.proj(x).permute(0, 2, 3, 1)


class PatchMerging(nn.Module):
    """Stride-2 3x3 conv + norm between stages, (B, H, W, C) -> (B, ceil(H/2), ceil(W/2), C')."""

    def __init__(self, dim, out_dim, norm_cfg):
        super().__init__()
        self.reduction = nn.Conv2d(dim, out_dim, 3, stride=2, padding=1)
        self.norm = build_norm_layer(norm_cfg, out_dim)

    def execute(self, x):
        x = self.norm(self.reduction(x.permute(0, 3, 1, 2)))
        return x.permute(0, 2, 3, 1)


def _torch_linspace_float32(start, end, steps):
    """torch.linspace in float32: the first half counts up from start, the second half down from end."""
    f32 = np.float32
    if steps == 1:
        return np.array([start], dtype=f32)
    step = (f32(end) - f32(start)) / f32(steps - 1)
    values = [f32(start) + step * f32(i) if i < steps // 2 else f32(end) - step * f32(steps - 1 - i)
              for i in range(steps)]
    return np.array(values, dtype=f32)


def rotary_angles(key_dim):
    """Frequencies of the rotary code, each repeated for the two members of a channel pair."""
    exponents = _torch_linspace_float32(0.0, 1.0, key_dim // 2)
    angle = np.float32(1.0) / np.power(np.float32(10000.0), exponents)
    return np.repeat(angle, 2).astype(np.float32)


def head_decays(num_heads, init_value, heads_range):
    """log(1 - 2^-(init + range * h / heads)) per head: how fast each head's attention decays with distance."""
    f32 = np.float32
    ramp = f32(heads_range) * np.arange(num_heads, dtype=f32) / f32(num_heads)
    return np.log(f32(1.0) - np.power(f32(2.0), f32(-init_value) - ramp)).astype(np.float32)


# A block's geometry prior: the rotary tables (H, W, key_dim) and what the attention builds its priors from,
# the depth at the feature resolution (B, 1, H, W), the per-head decay and the two mixing weights.
GeometryPriorInputs = namedtuple('GeometryPriorInputs', 'sin cos depth decay weight')


def grid_decay(height, width, decay):
    """Manhattan distance between all positions * decay: (heads, HW, HW)."""
    rows = jt.arange(height).float32().reshape(-1, 1).broadcast((height, width)).reshape(-1)
    cols = jt.arange(width).float32().reshape(1, -1).broadcast((height, width)).reshape(-1)
    distance = ((rows.reshape(-1, 1) - rows.reshape(1, -1)).abs()
                + (cols.reshape(-1, 1) - cols.reshape(1, -1)).abs())
    return distance * decay.reshape(-1, 1, 1)


def grid_depth_decay(depth, decay):
    """|d_a - d_b| between all positions * decay: (B, heads, HW, HW)."""
    flat = depth.reshape(depth.shape[0], -1)
    difference = (flat.unsqueeze(2) - flat.unsqueeze(1)).abs()
    return difference.unsqueeze(1) * decay.reshape(1, -1, 1, 1)


def full_geometry_prior(prior):
    """The (B, heads, HW, HW) prior of attention over all positions (reference: GeoPriorGen's full mask)."""
    height, width = prior.depth.shape[2:]
    return (prior.weight[0] * grid_decay(height, width, prior.decay)
            + prior.weight[1] * grid_depth_decay(prior.depth, prior.decay))


class GeometryPrior(nn.Module):
    """Builds a block's geometry prior from the depth map (reference: GeoPriorGen).

    ``angle`` and ``decay`` are fixed buffers: stored in checkpoints, never
    trained. ``weight`` mixes the spatial-distance and depth-difference terms.
    """

    def __init__(self, embed_dim, num_heads, init_value, heads_range):
        super().__init__()
        self.weight = jt.ones((2, 1, 1, 1))
        self.register_buffer('angle', jt.array(rotary_angles(embed_dim // num_heads)).stop_grad())
        self.register_buffer('decay', jt.array(head_decays(num_heads, init_value, heads_range)).stop_grad())

    def rotary_tables(self, height, width):
        # The phase uses the flat position index; keep index * angle in float32 like the reference.
        index = jt.arange(height * width).float32()
        phase = index.reshape(-1, 1) * self.angle.reshape(1, -1)
        # Fixed tables, never trained. stop_grad on the results: an op on a stop_grad Var gives a Var that is not,
        # and the rotary kernel runs only with fixed tables.
        return (jt.sin(phase).reshape(height, width, -1).stop_grad(),
                jt.cos(phase).reshape(height, width, -1).stop_grad())

    def execute(self, size, depth):
        """``GeometryPriorInputs`` of a block whose feature maps have ``size`` (H, W)."""
        height, width = size
        # The depth map is input data: no gradient flows into it, and the prior kernels need it fixed.
        depth = resize(depth, size, mode='bilinear', align_corners=False).stop_grad()
        sin, cos = self.rotary_tables(height, width)
        return GeometryPriorInputs(sin, cos, depth, self.decay, self.weight)


class GeometryAttentionBase(nn.Module):
    """Projections shared by both attention variants; ``lepe`` is a local conv on the values."""

    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.key_dim = embed_dim // num_heads
        self.scaling = self.key_dim ** -0.5
        self.q_proj = ops.Linear(embed_dim, embed_dim)
        self.k_proj = ops.Linear(embed_dim, embed_dim)
        self.v_proj = ops.Linear(embed_dim, embed_dim)
        self.lepe = ChannelsLastDWConv(embed_dim, 5, 2)
        self.out_proj = ops.Linear(embed_dim, embed_dim)

    def execute(self, x, geo_prior):
        return self.out_proj(self.mixed_features(x, geo_prior))

    def mixed_features(self, x, geo_prior):
        """The input of ``out_proj``: the attention result plus the local term."""
        raise NotImplementedError

    def project(self, x, sin, cos):
        """Return rotated queries and keys (B, heads, H, W, d), values (B, H, W, C) and the local term."""
        q = self.q_proj(x)
        k = self.k_proj(x)
        v = self.v_proj(x)
        lepe = self.lepe(v)
        # The rotation is linear, so k's scaling rides on its tables; the kernel also moves the heads first.
        k_sin, k_cos = (sin * self.scaling).stop_grad(), (cos * self.scaling).stop_grad()
        return (ops.rotate_pairs(q, sin, cos, heads=self.num_heads),
                ops.rotate_pairs(k, k_sin, k_cos, heads=self.num_heads), v, lepe)


class DecomposedGeometryAttention(GeometryAttentionBase):
    """Attention along W within each row, then along H within each column (reference: Decomposed_GSA).

    The priors along rows and columns (distance and depth difference, scaled
    per head) are built by :func:`ops.decomposed_geometry_attention`, which
    also keeps v and the result channels-last.
    """

    def mixed_features(self, x, prior):
        qr, kr, v, lepe = self.project(x, prior.sin, prior.cos)  # qr, kr: (b, heads, h, w, d)
        return ops.decomposed_geometry_attention(qr, kr, v, prior.depth, prior.decay, prior.weight) + lepe


class FullGeometryAttention(GeometryAttentionBase):
    """Attention over all H*W positions at once (reference: Full_GSA)."""

    def mixed_features(self, x, prior):
        b, h, w, _ = x.shape
        mask = full_geometry_prior(prior)
        qr, kr, v, lepe = self.project(x, prior.sin, prior.cos)
        qr = qr.reshape(b, self.num_heads, h * w, -1)
        kr = kr.reshape(b, self.num_heads, h * w, -1)
        vr = v.reshape(b, h, w, self.num_heads, -1).permute(0, 3, 1, 2, 4).reshape(b, self.num_heads, h * w, -1)
        output = ops.attention(qr, kr, vr, mask)
        return output.transpose(0, 2, 1, 3).reshape(b, h, w, -1) + lepe


class ConvFFN(nn.Module):
    """fc1 -> GELU -> (+ depth-wise 3x3 conv, residual) -> fc2 (reference: FeedForwardNetwork)."""

    def __init__(self, embed_dim, ffn_dim):
        super().__init__()
        self.fc1 = ops.Linear(embed_dim, ffn_dim, activation='gelu')  # computes GELU(fc1(x))
        self.fc2 = ops.Linear(ffn_dim, embed_dim)
        self.dwconv = ChannelsLastDWConv(ffn_dim, 3, 1)

    def hidden(self, x):
        """The input of ``fc2``."""
        return dwconv_plus_input(self.dwconv, self.fc1(x))

    def execute(self, x):
        return self.fc2(self.hidden(x))


class GeometryBlock(nn.Module):
    """Conv position code, geometry attention and FFN, each as a residual branch (reference: RGBD_Block)."""

    def __init__(self, decomposed, embed_dim, num_heads, ffn_dim, drop_path, layerscale, layer_init_values,
                 init_value, heads_range):
        super().__init__()
        self.layerscale = layerscale
        self.layer_norm1 = LayerNorm(embed_dim, eps=1e-6)
        self.layer_norm2 = LayerNorm(embed_dim, eps=1e-6)
        attention = DecomposedGeometryAttention if decomposed else FullGeometryAttention
        self.Attention = attention(embed_dim, num_heads)
        self.drop_path = DropPath(drop_path)
        self.ffn = ConvFFN(embed_dim, ffn_dim)
        self.cnn_pos_encode = ChannelsLastDWConv(embed_dim, 3, 1)
        self.Geo = GeometryPrior(embed_dim, num_heads, init_value, heads_range)
        if layerscale:
            self.gamma_1 = layer_init_values * jt.ones((1, 1, 1, embed_dim))
            self.gamma_2 = layer_init_values * jt.ones((1, 1, 1, embed_dim))

    def add_branch(self, residual, layer_scale, last_linear, features):
        """``residual + drop_path(layer_scale * last_linear(features))`` as one ``last_linear`` call (the reference's
        ``x = x + self.drop_path(self.gamma_1 * self.Attention(...))`` and its FFN twin): ``ops.Linear`` applies the
        scale, with the stochastic-depth mask folded in, and adds the residual while it stores its output."""
        scale = self.drop_path.branch_scale(layer_scale, residual)
        return last_linear(features, multiplier=scale, residual=residual)

    def execute(self, x, depth):
        x = dwconv_plus_input(self.cnn_pos_encode, x)
        geo_prior = self.Geo(x.shape[1:3], depth)
        x = self.add_branch(x, self.gamma_1 if self.layerscale else None, self.Attention.out_proj,
                            self.Attention.mixed_features(self.layer_norm1(x), geo_prior))
        return self.add_branch(x, self.gamma_2 if self.layerscale else None, self.ffn.fc2,
                               self.ffn.hidden(self.layer_norm2(x)))


class GeometryStage(nn.Module):
    """Blocks of one stage, then the optional downsampling (reference: BasicLayer)."""

    def __init__(self, blocks, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.downsample = downsample

    def execute(self, x, depth):
        for block in self.blocks:
            x = block(x, depth)
        x_down = self.downsample(x) if self.downsample is not None else x
        return x, x_down


def _per_stage(name, value):
    values = list(value)
    if len(values) != NUM_STAGES:
        raise ValueError(f'DFormerv2: {name} needs one value per stage ({NUM_STAGES}), got {value!r}')
    return values


@BACKBONES.register_module()
class DFormerv2(nn.Module):
    """DFormerv2 backbone.

    Args:
        arch: 'S', 'B' or 'L' for an official variant, or None to give the
            per-stage lists yourself. Explicit lists override the table.
        embed_dims, depths, num_heads, heads_ranges, init_values, mlp_ratios,
            layerscales: one value per stage (4 stages).
        layer_init_values: initial value of the layer-scale vectors.
        drop_path_rate: stochastic-depth rate, growing linearly over all blocks.
        norm_cfg: norm of the stem and the downsampling layers.
        out_indices: which stage outputs to return.
        norm_eval: keep BatchNorm statistics frozen in training mode. The
            reference has this flag but its test never matches its
            SyncBatchNorm layers, so they train; False reproduces that.

    ``execute(img, depth)`` returns NCHW features at strides 4, 8, 16, 32
    (input sizes round up at every stride-2 conv). Only channel 0 of
    ``depth`` is used.
    """

    def __init__(self, arch=None, embed_dims=None, depths=None, num_heads=None, heads_ranges=None,
                 init_values=None, mlp_ratios=None, layerscales=None, layer_init_values=1e-6,
                 drop_path_rate=0.1, norm_cfg=dict(type='BN', requires_grad=True), out_indices=(0, 1, 2, 3),
                 in_channels=3, norm_eval=False):
        super().__init__()
        settings = self._resolve_settings(arch, dict(
            embed_dims=embed_dims, depths=depths, num_heads=num_heads, heads_ranges=heads_ranges,
            init_values=init_values, mlp_ratios=mlp_ratios, layerscales=layerscales))
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(NUM_STAGES) for i in out_indices):
            raise ValueError(f'DFormerv2: out_indices must be stage numbers in 0..{NUM_STAGES - 1}, '
                             f'got {out_indices!r}')
        self.arch = arch
        self.out_indices = out_indices
        self.norm_eval = norm_eval
        self.embed_dims = settings['embed_dims']
        self.num_features = self.embed_dims[-1]
        # Peak memory of a whole-image forward without gradients, per input pixel (measured on the CPU: 12.2 x
        # embed_dims[0] for DFormerv2-S at 480x640 and 960x1280); the segmentor refuses inputs that cannot fit.
        self.inference_bytes_per_pixel = 13 * self.embed_dims[0]

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims[0], norm_cfg)
        depths = settings['depths']
        drop_rates = np.linspace(0.0, drop_path_rate, sum(depths)).tolist()
        stages = []
        for i in range(NUM_STAGES):
            dim = self.embed_dims[i]
            first = sum(depths[:i])
            blocks = [
                GeometryBlock(decomposed=i != NUM_STAGES - 1, embed_dim=dim, num_heads=settings['num_heads'][i],
                              ffn_dim=int(settings['mlp_ratios'][i] * dim), drop_path=drop_rates[first + j],
                              layerscale=settings['layerscales'][i], layer_init_values=layer_init_values,
                              init_value=settings['init_values'][i], heads_range=settings['heads_ranges'][i])
                for j in range(depths[i])
            ]
            last = i == NUM_STAGES - 1
            downsample = None if last else PatchMerging(dim, self.embed_dims[i + 1], norm_cfg)
            stages.append(GeometryStage(blocks, downsample))
        self.layers = nn.ModuleList(stages)
        # PyTorch's default LayerNorm eps (1e-5) here, unlike the blocks' 1e-6.
        self.extra_norms = nn.ModuleList([LayerNorm(d, eps=1e-5) for d in self.embed_dims[1:]])
        self.init_weights()

    @staticmethod
    def _resolve_settings(arch, explicit):
        if arch is None:
            missing = [k for k in REQUIRED_WITHOUT_ARCH if explicit[k] is None]
            if missing:
                raise ValueError(f'DFormerv2: without arch, give {", ".join(missing)} '
                                 f'(or pick arch from {sorted(ARCH_SETTINGS)})')
            base = {}
        elif arch in ARCH_SETTINGS:
            base = ARCH_SETTINGS[arch]
        else:
            raise KeyError(f'DFormerv2: unknown arch {arch!r}; choose one of {sorted(ARCH_SETTINGS)} or None')
        settings = dict(COMMON_STAGE_DEFAULTS, **base)
        settings.update({k: v for k, v in explicit.items() if v is not None})
        settings = {k: _per_stage(k, v) for k, v in settings.items()}
        for i, (dim, heads) in enumerate(zip(settings['embed_dims'], settings['num_heads'])):
            if dim % heads or (dim // heads) % 2:
                raise ValueError(f'DFormerv2: stage {i} embed_dim {dim} must split into {heads} heads of an '
                                 f'even size (the rotary code rotates channel pairs)')
        return settings

    def init_weights(self):
        """Reference init: truncated normal (std 0.02) for linear weights, zero biases, unit LayerNorms.

        Convolutions keep Jittor's default (the same bound as PyTorch's), the
        geometry buffers keep their computed values.
        """
        for m in self.modules():
            if isinstance(m, nn.Linear):
                jt.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    m.bias.assign(jt.zeros_like(m.bias))
            elif isinstance(m, nn.LayerNorm):
                m.weight.assign(jt.ones_like(m.weight))
                m.bias.assign(jt.zeros_like(m.bias))

    def train(self):
        super().train()
        if self.norm_eval:
            # Only the statistics freeze: Module.eval() would also stop the gradients of the affine weights.
            for m in self.modules():
                if isinstance(m, nn.BatchNorm):
                    m.is_train = False
        return self

    def execute(self, img, depth):
        if img.ndim != 4 or depth.ndim != 4:
            raise ValueError(f'DFormerv2 expects NCHW img and depth, got shapes {img.shape} and {depth.shape}')
        if tuple(img.shape[-2:]) != tuple(depth.shape[-2:]) or img.shape[0] != depth.shape[0]:
            raise ValueError(f'DFormerv2: img {img.shape} and depth {depth.shape} differ in batch or size')
        x = self.patch_embed(img)
        depth = depth[:, 0:1]
        outs = []
        for i, stage in enumerate(self.layers):
            x_out, x = stage(x, depth)
            if i in self.out_indices:
                if i > 0:
                    x_out = self.extra_norms[i - 1](x_out)
                outs.append(x_out.permute(0, 3, 1, 2))
        return outs
