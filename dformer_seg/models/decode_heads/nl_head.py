"""NLHead: a non-local block on the fused multi-level feature (official ``nl_head.py``)."""
import math

from jittor import nn

from ...registry import HEADS
from ..utils import ConvModule
from .decode_head import BaseDecodeHead


class NonLocal2d(nn.Module):
    """Non-local block (https://arxiv.org/abs/1711.07971): ``x + conv_out(attention(x) @ g(x))``.

    Args:
        in_channels: channels of the input.
        reduction: ``inter_channels = max(in_channels // reduction, 1)``.
        use_scale: divide the embedded-Gaussian logits by sqrt(inter_channels).
        norm_cfg: norm of ``conv_out`` (``g``, ``theta``, ``phi`` have none).
        mode: 'embedded_gaussian' (softmax attention) or 'dot_product'
            (logits divided by the number of positions).
    """

    MODES = ('embedded_gaussian', 'dot_product')

    def __init__(self, in_channels, reduction=2, use_scale=True, norm_cfg=None, mode='embedded_gaussian'):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f'NonLocal2d mode must be one of {self.MODES}, got {mode!r}')
        self.in_channels = in_channels
        self.inter_channels = max(in_channels // reduction, 1)
        self.use_scale = use_scale
        self.mode = mode
        self.g = ConvModule(in_channels, self.inter_channels, 1, act_cfg=None)
        self.conv_out = ConvModule(self.inter_channels, in_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.theta = ConvModule(in_channels, self.inter_channels, 1, act_cfg=None)
        self.phi = ConvModule(in_channels, self.inter_channels, 1, act_cfg=None)

    def execute(self, x):
        n, _, h, w = x.shape
        g_x = self.g(x).reshape(n, self.inter_channels, h * w).transpose(0, 2, 1)          # (n, HW, C')
        theta_x = self.theta(x).reshape(n, self.inter_channels, h * w).transpose(0, 2, 1)  # (n, HW, C')
        phi_x = self.phi(x).reshape(n, self.inter_channels, h * w)                         # (n, C', HW)
        pairwise = nn.bmm(theta_x, phi_x)
        if self.mode == 'embedded_gaussian':
            if self.use_scale:
                pairwise = pairwise / math.sqrt(self.inter_channels)
            pairwise = nn.softmax(pairwise, dim=-1)
        else:
            pairwise = pairwise / pairwise.shape[-1]
        y = nn.bmm(pairwise, g_x).transpose(0, 2, 1).reshape(n, self.inter_channels, h, w)
        return x + self.conv_out(y)


@HEADS.register_module()
class NLHead(BaseDecodeHead):
    """Resize the selected features to the first one, concatenate, ``squeeze`` (1x1 conv block),
    ``nl_block`` (non-local), ``align`` (1x1 conv block), classify. Names as the official head.

    Args:
        reduction, use_scale, mode: of the :class:`NonLocal2d` block (official: 2, True,
            'embedded_gaussian').
    """

    def __init__(self, reduction=2, use_scale=True, mode='embedded_gaussian', **kwargs):
        if kwargs.get('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError('NLHead always uses input_transform="multiple_select"')
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(**kwargs)
        self.squeeze = ConvModule(sum(self.in_channels), self.channels, 1, norm_cfg=self.norm_cfg,
                                  act_cfg=self.act_cfg)
        self.nl_block = NonLocal2d(self.channels, reduction=reduction, use_scale=use_scale, norm_cfg=self.norm_cfg,
                                   mode=mode)
        self.align = ConvModule(self.channels, self.channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.init_weights()

    def execute(self, inputs):
        x = self.resize_concat(self._transform_inputs(inputs))
        x = self.nl_block(self.squeeze(x))
        return self.cls_seg(self.align(x))
