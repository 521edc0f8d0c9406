"""MLPDecoder: the SegFormer-style all-MLP decoder of the official DFormer code (``MLPDecoder.py``)."""
import jittor as jt
from jittor import nn

from ...registry import HEADS
from ..utils import resize
from .decode_head import BaseDecodeHead
from .head_layers import conv_norm_act


class MLP(nn.Module):
    """Per-pixel linear embedding of an NCHW map; returns NCHW."""

    def __init__(self, input_dim, embed_dim):
        super().__init__()
        self.proj = nn.Linear(input_dim, embed_dim)

    def execute(self, x):
        n, c, h, w = x.shape
        tokens = x.reshape(n, c, h * w).transpose(0, 2, 1)
        return self.proj(tokens).transpose(0, 2, 1).reshape(n, -1, h, w)


@HEADS.register_module()
class MLPDecoder(BaseDecodeHead):
    """Embed every selected feature to ``channels`` with a linear layer, resize all to
    the first one, concatenate (deepest first, as the official code), fuse with a
    1x1 conv + norm + act, classify.

    Names follow the official ``DecoderHead``: ``linear_c1`` .. ``linear_cK``
    (each with ``proj``), ``linear_fuse`` (Sequential conv, norm, act) and the
    classifier ``linear_pred``. ``channels`` is the official ``embed_dim``.
    """

    classifier_name = 'linear_pred'

    def __init__(self, in_channels=(64, 128, 320, 512), channels=768, in_index=(0, 1, 2, 3),
                 norm_cfg=dict(type='BN'), **kwargs):
        if kwargs.get('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError('MLPDecoder always uses input_transform="multiple_select"')
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(in_channels, channels, in_index=in_index, norm_cfg=norm_cfg, **kwargs)
        for level, level_channels in enumerate(self.in_channels, start=1):
            setattr(self, f'linear_c{level}', MLP(level_channels, channels))
        self.linear_fuse = conv_norm_act(channels * len(self.in_channels), channels, 1, norm_cfg=self.norm_cfg,
                                         act_cfg=self.act_cfg)
        self.init_weights()

    def execute(self, inputs):
        inputs = self._transform_inputs(inputs)
        size = inputs[0].shape[2:]
        embedded = []
        for level, feature in enumerate(inputs, start=1):
            x = getattr(self, f'linear_c{level}')(feature)
            embedded.append(resize(x, size=size, mode='bilinear', align_corners=self.align_corners))
        fused = self.linear_fuse(jt.concat(embedded[::-1], dim=1))
        return self.cls_seg(fused)
