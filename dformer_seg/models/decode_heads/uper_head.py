"""UPerHead: pyramid pooling on the deepest feature plus an FPN (official ``UPernet.py``)."""
import jittor as jt
from jittor import nn

from ...registry import HEADS
from ..utils import resize
from .decode_head import BaseDecodeHead
from .head_layers import AdaptiveAvgPool2d, conv_norm_act


class PPM(nn.ModuleList):
    """Pooling Pyramid Module: for each scale, adaptive average pool, 1x1 conv block, upsample back.

    Entry ``i`` is Sequential(pool, conv, norm, act), as in the official code.
    """

    def __init__(self, pool_scales, in_channels, channels, norm_cfg, act_cfg, align_corners=False):
        super().__init__()
        self.align_corners = align_corners
        for scale in pool_scales:
            block = conv_norm_act(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.append(nn.Sequential(AdaptiveAvgPool2d(scale), *block))

    def execute(self, x):
        size = x.shape[2:]
        return [resize(branch(x), size=size, mode='bilinear', align_corners=self.align_corners) for branch in self]


@HEADS.register_module()
class UPerHead(BaseDecodeHead):
    """Unified Perceptual Parsing head (https://arxiv.org/abs/1807.10221).

    Names follow the official code: ``psp_modules``, ``bottleneck``,
    ``lateral_convs``, ``fpn_convs``, ``fpn_bottleneck`` (each block a
    Sequential conv, norm, act) and ``conv_seg``. The official head applies no
    dropout before the classifier, hence ``dropout_ratio`` defaults to 0.

    Args:
        pool_scales: output sizes of the pyramid pooling on the deepest feature.
    """

    def __init__(self, in_channels=(96, 192, 384, 768), channels=512, pool_scales=(1, 2, 3, 6),
                 in_index=(0, 1, 2, 3), dropout_ratio=0.0, norm_cfg=dict(type='BN'), **kwargs):
        if kwargs.get('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError('UPerHead always uses input_transform="multiple_select"')
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(in_channels, channels, in_index=in_index, dropout_ratio=dropout_ratio, norm_cfg=norm_cfg,
                         **kwargs)
        if len(self.in_channels) < 2:
            raise ValueError('UPerHead needs at least two input features')
        block_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.psp_modules = PPM(pool_scales, self.in_channels[-1], channels, align_corners=self.align_corners,
                               **block_args)
        self.bottleneck = conv_norm_act(self.in_channels[-1] + len(pool_scales) * channels, channels, 3, padding=1,
                                        **block_args)
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for level_channels in self.in_channels[:-1]:
            self.lateral_convs.append(conv_norm_act(level_channels, channels, 1, **block_args))
            self.fpn_convs.append(conv_norm_act(channels, channels, 3, padding=1, **block_args))
        self.fpn_bottleneck = conv_norm_act(len(self.in_channels) * channels, channels, 3, padding=1, **block_args)
        self.init_weights()

    def psp_forward(self, inputs):
        x = inputs[-1]
        return self.bottleneck(jt.concat([x] + self.psp_modules(x), dim=1))

    def execute(self, inputs):
        inputs = self._transform_inputs(inputs)
        laterals = [lateral_conv(inputs[i]) for i, lateral_conv in enumerate(self.lateral_convs)]
        laterals.append(self.psp_forward(inputs))

        # top-down: add each coarser level, upsampled, to the next finer one
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + resize(laterals[i], size=laterals[i - 1].shape[2:],
                                                       mode='bilinear', align_corners=self.align_corners)

        outs = [self.fpn_convs[i](laterals[i]) for i in range(len(laterals) - 1)] + [laterals[-1]]
        size = outs[0].shape[2:]
        outs = [outs[0]] + [resize(x, size=size, mode='bilinear', align_corners=self.align_corners)
                            for x in outs[1:]]
        return self.cls_seg(self.fpn_bottleneck(jt.concat(outs, dim=1)))
