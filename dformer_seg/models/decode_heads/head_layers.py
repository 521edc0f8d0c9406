"""Building blocks shared by the decode heads that keep the official PyTorch layer names."""

import jittor as jt
from jittor import nn

from ..utils import adaptive_pool_matrix, build_activation_layer, build_norm_layer


def conv_norm_act(in_channels, out_channels, kernel_size, padding=0, dilation=1, bias=True,
                  norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU')):
    """``nn.Sequential(conv, norm, act)``: the official heads' layout, so keys read ``<name>.0.weight``,
    ``<name>.1.running_mean``. A missing norm or activation becomes an Identity to keep the indices."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=bias),
        build_norm_layer(norm_cfg, out_channels) if norm_cfg is not None else nn.Identity(),
        build_activation_layer(act_cfg) if act_cfg is not None else nn.Identity(),
    )


class AdaptiveAvgPool2d(nn.Module):
    """Adaptive average pooling with PyTorch's bin boundaries.

    Jittor's own AdaptiveAvgPool2d uses equal-size windows, which differ from
    PyTorch when the input size is not a multiple of the output size (odd
    image sizes). The bins are rectangles, so pooling is two small matrix
    products: ``P_h @ x @ P_w^T``.
    """

    thop_equivalent = 'AdaptiveAvgPool2d'  # torch.nn.AdaptiveAvgPool2d in the reference heads

    def __init__(self, output_size):
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        if len(output_size) != 2 or any(not isinstance(s, int) or s <= 0 for s in output_size):
            raise ValueError(f'output_size must be a positive int or a pair of them, got {output_size!r}')
        self.output_size = tuple(output_size)

    def execute(self, x):
        if x.ndim != 4:
            raise ValueError(f'AdaptiveAvgPool2d expects an NCHW input, got shape {tuple(x.shape)}')
        out_h, out_w = self.output_size
        if (out_h, out_w) == (1, 1):
            return x.mean(dims=(2, 3), keepdims=True)
        rows = jt.array(adaptive_pool_matrix(x.shape[2], out_h))
        cols = jt.array(adaptive_pool_matrix(x.shape[3], out_w))
        # (oh, H) x (N, C, H, W) -> (N, C, oh, W); then (N, C, oh, W) x (W, ow) -> (N, C, oh, ow)
        pooled_rows = nn.matmul(rows, x)
        return nn.matmul(pooled_rows, cols.transpose(1, 0))

    def extra_repr(self):
        return f'output_size={self.output_size}'
