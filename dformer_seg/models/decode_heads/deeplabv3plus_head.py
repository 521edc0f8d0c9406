"""DeepLabV3+ head (official ``deeplabv3plus.py``): ASPP on the deepest feature, fused with a
low-level feature."""
import jittor as jt
from jittor import nn

from ...registry import HEADS
from ..utils import resize
from .decode_head import BaseDecodeHead
from .head_layers import AdaptiveAvgPool2d, conv_norm_act


class ASPPConv(nn.Module):
    """Dilated 3x3 conv block; official name ``block``."""

    def __init__(self, in_channels, out_channels, dilation, norm_cfg, act_cfg):
        super().__init__()
        self.block = conv_norm_act(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False,
                                   norm_cfg=norm_cfg, act_cfg=act_cfg)

    def execute(self, x):
        return self.block(x)


class ASPPPooling(nn.Module):
    """Image-level branch: global average pool, 1x1 conv block, broadcast back; official name ``gap``."""

    def __init__(self, in_channels, out_channels, norm_cfg, act_cfg):
        super().__init__()
        block = conv_norm_act(in_channels, out_channels, 1, bias=False, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.gap = nn.Sequential(AdaptiveAvgPool2d(1), *block)

    def execute(self, x):
        # A 1x1 map resized with align_corners=True is a plain broadcast.
        return resize(self.gap(x), size=x.shape[2:], mode='bilinear', align_corners=True)


class ASPP(nn.Module):
    """Branches ``b0`` (1x1), ``b1``-``b3`` (dilated 3x3), ``b4`` (image pooling), then ``project``."""

    def __init__(self, in_channels, channels, dilations, norm_cfg, act_cfg, dropout_ratio):
        super().__init__()
        if len(dilations) != 3:
            raise ValueError(f'ASPP takes three dilations (as the official head), got {dilations!r}')
        block_args = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.b0 = conv_norm_act(in_channels, channels, 1, bias=False, **block_args)
        self.b1 = ASPPConv(in_channels, channels, dilations[0], **block_args)
        self.b2 = ASPPConv(in_channels, channels, dilations[1], **block_args)
        self.b3 = ASPPConv(in_channels, channels, dilations[2], **block_args)
        self.b4 = ASPPPooling(in_channels, channels, **block_args)
        self.project = nn.Sequential(*conv_norm_act(5 * channels, channels, 1, bias=False, **block_args),
                                     nn.Dropout(dropout_ratio))

    def execute(self, x):
        branches = [self.b0(x), self.b1(x), self.b2(x), self.b3(x), self.b4(x)]
        return self.project(jt.concat(branches, dim=1))


@HEADS.register_module(name=['DeepLabV3Plus', 'DeepLabV3PlusHead'])
class DeepLabV3Plus(BaseDecodeHead):
    """DeepLabV3+ decoder.

    ``in_channels``/``in_index`` select exactly two features: [low-level,
    high-level] (the official head uses strides 4 and 32, the default). ASPP
    runs on the high-level feature, whose output is resized to the low-level
    feature and concatenated with its ``c1_channels`` projection; a 3x3 conv
    block, dropout and a 1x1 classifier follow.

    Names follow the official code: ``aspp`` (``b0``..``b4``, ``project``),
    ``low_level`` and ``block`` (conv, norm, act, dropout, classifier), so the
    classifier is ``block.4``. Official constants are the defaults: 256
    channels, 48 low-level channels, dilations (12, 24, 36), ASPP dropout 0.5,
    final dropout 0.1 and ``align_corners=True``. The convs are plain (not
    depthwise-separable), as in the official head.
    """

    classifier_name = None

    def __init__(self, in_channels, channels=256, in_index=(0, 3), c1_channels=48, dilations=(12, 24, 36),
                 aspp_dropout_ratio=0.5, dropout_ratio=0.1, norm_cfg=dict(type='BN'), align_corners=True, **kwargs):
        if kwargs.get('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError('DeepLabV3Plus always uses input_transform="multiple_select"')
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(in_channels, channels, in_index=in_index, dropout_ratio=dropout_ratio, norm_cfg=norm_cfg,
                         align_corners=align_corners, **kwargs)
        if len(self.in_channels) != 2:
            raise ValueError('DeepLabV3Plus takes two features [low-level, high-level]; got in_channels='
                             f'{self.in_channels}')
        low_channels, high_channels = self.in_channels
        block_args = dict(norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.aspp = ASPP(high_channels, channels, dilations, dropout_ratio=aspp_dropout_ratio, **block_args)
        self.low_level = conv_norm_act(low_channels, c1_channels, 3, padding=1, **block_args)
        self.block = nn.Sequential(*conv_norm_act(channels + c1_channels, channels, 3, padding=1, **block_args),
                                   nn.Dropout(dropout_ratio), nn.Conv2d(channels, self.num_classes, 1))
        self.init_weights()

    def execute(self, inputs):
        low, high = self._transform_inputs(inputs)
        low = self.low_level(low)
        high = resize(self.aspp(high), size=low.shape[2:], mode='bilinear', align_corners=self.align_corners)
        return self.block(jt.concat([high, low], dim=1))
