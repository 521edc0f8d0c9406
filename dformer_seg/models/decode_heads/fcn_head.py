"""FCNHead: conv blocks on one feature map, then a 1x1 classifier (DFormer's auxiliary head)."""
from jittor import nn

from ...registry import HEADS
from .decode_head import BaseDecodeHead
from .head_layers import conv_norm_act


@HEADS.register_module()
class FCNHead(BaseDecodeHead):
    """Fully-convolutional head on a single feature (``in_index``, default the last).

    Layer names follow the official ``fcnhead.py``: ``conv`` is a Sequential of
    (conv, norm, act) triples and the classifier is ``classifier``. With the
    defaults (one 3x3 conv, no dropout) it is exactly the official head.

    Args:
        in_channels: channels of the selected feature.
        channels: channels of the conv blocks; default ``in_channels // 4``.
        num_convs: number of (conv, norm, act) blocks, at least 1.
        kernel_size, dilation: of the conv blocks (padding keeps the size).
        **kwargs: :class:`BaseDecodeHead` arguments; ``norm_cfg`` defaults to BN
            and ``dropout_ratio`` to 0 (the official head has no dropout).
    """

    classifier_name = 'classifier'

    def __init__(self, in_channels, channels=None, num_convs=1, kernel_size=3, dilation=1, dropout_ratio=0.0,
                 norm_cfg=dict(type='BN'), in_index=-1, **kwargs):
        if not isinstance(in_channels, int):
            raise TypeError(f'FCNHead takes one feature map; in_channels must be an int, got {in_channels!r}')
        if channels is None:
            channels = max(in_channels // 4, 1)
        if not isinstance(num_convs, int) or num_convs < 1:
            raise ValueError(f'FCNHead: num_convs must be an int >= 1, got {num_convs!r}')
        if kernel_size % 2 != 1:
            raise ValueError(f'FCNHead: kernel_size must be odd to keep the feature size, got {kernel_size}')
        super().__init__(in_channels, channels, dropout_ratio=dropout_ratio, norm_cfg=norm_cfg, in_index=in_index,
                         **kwargs)
        padding = (kernel_size // 2) * dilation
        layers = []
        for i in range(num_convs):
            block = conv_norm_act(in_channels if i == 0 else channels, channels, kernel_size, padding=padding,
                                  dilation=dilation, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            layers.extend(block)
        self.conv = nn.Sequential(*layers)
        self.init_weights()

    def execute(self, inputs):
        x = self._transform_inputs(inputs)
        return self.cls_seg(self.conv(x))
