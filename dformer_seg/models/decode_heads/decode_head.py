"""Base class of all decode heads (mmseg style).

A head maps the list of backbone features to class logits and turns logits
plus labels into a dict of named losses and the pixel accuracy.
"""
import jittor as jt
from jittor import init, nn

from ...registry import LOSSES
from ..losses.accuracy import accuracy
from ..utils import resize

INPUT_TRANSFORMS = (None, 'resize_concat', 'multiple_select')


def _check_conv_cfg(conv_cfg):
    if conv_cfg is not None and dict(conv_cfg).get('type') not in ('Conv', 'Conv2d'):
        raise ValueError(f'only plain 2-D convolutions are supported, got conv_cfg={conv_cfg!r}')


class BaseDecodeHead(nn.Module):
    """Common arguments, input selection, classifier and losses of a decode head.

    Args:
        in_channels: channels of the selected input(s): an int for a single
            input, a list when ``input_transform`` is set.
        channels: channels of the feature that enters the classifier.
        num_classes: number of classes.
        dropout_ratio: channel dropout before the classifier (0 disables it).
        conv_cfg: None or ``dict(type='Conv2d')``.
        norm_cfg: normalization config of the head's conv blocks, e.g.
            ``dict(type='BN', eps=1e-3)`` for the official DFormer heads.
        act_cfg: activation config.
        in_index: index (or list of indices) of the backbone outputs used.
        input_transform: None (one feature), 'multiple_select' (a list of
            features) or 'resize_concat' (all resized to the first one and
            concatenated).
        loss_decode: a LOSSES config dict or a list of them; losses with the
            same ``loss_name`` are summed.
        ignore_index: label value that is ignored by losses and accuracy.
        align_corners: align_corners of every bilinear resize in the head.

    Subclasses implement ``execute(inputs)`` and call ``init_weights()`` once
    all their layers exist. The classifier is stored under the attribute named
    by ``classifier_name`` (``conv_seg`` as in mmseg; some heads keep the name
    of the official code). A subclass that sets it to None builds its own.
    """

    classifier_name = 'conv_seg'

    def __init__(self, in_channels, channels, *, num_classes, dropout_ratio=0.1, conv_cfg=None, norm_cfg=None,
                 act_cfg=dict(type='ReLU'), in_index=-1, input_transform=None,
                 loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0), ignore_index=255,
                 align_corners=False):
        super().__init__()
        self._init_inputs(in_channels, in_index, input_transform)
        if not isinstance(channels, int) or channels <= 0:
            raise ValueError(f'channels must be a positive int, got {channels!r}')
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f'dropout_ratio must be in [0, 1), got {dropout_ratio}')
        _check_conv_cfg(conv_cfg)
        self.channels = channels
        self.num_classes = num_classes
        self.dropout_ratio = dropout_ratio
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.loss_decode = self._build_losses(loss_decode)
        if self.classifier_name is not None:
            setattr(self, self.classifier_name, nn.Conv2d(channels, num_classes, 1))
            self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    def _init_inputs(self, in_channels, in_index, input_transform):
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(f'input_transform must be one of {INPUT_TRANSFORMS}, got {input_transform!r}')
        self.input_transform = input_transform
        if input_transform is None:
            if not isinstance(in_channels, int) or not isinstance(in_index, int):
                raise TypeError('with input_transform=None, in_channels and in_index must be ints, '
                                f'got {in_channels!r} and {in_index!r}')
        else:
            if not isinstance(in_channels, (list, tuple)) or not isinstance(in_index, (list, tuple)):
                raise TypeError(f'with input_transform={input_transform!r}, in_channels and in_index must be '
                                f'lists, got {in_channels!r} and {in_index!r}')
            if len(in_channels) != len(in_index):
                raise ValueError(f'in_channels {list(in_channels)} and in_index {list(in_index)} '
                                 'must have the same length')
            in_channels, in_index = list(in_channels), list(in_index)
        self.in_index = in_index
        self.in_channels = sum(in_channels) if input_transform == 'resize_concat' else in_channels

    @staticmethod
    def _build_losses(loss_decode):
        if isinstance(loss_decode, dict):
            return LOSSES.build(loss_decode)
        if isinstance(loss_decode, (list, tuple)) and loss_decode:
            return nn.ModuleList([LOSSES.build(cfg) for cfg in loss_decode])
        raise TypeError(f'loss_decode must be a dict or a non-empty list of dicts, got {loss_decode!r}')

    def _transform_inputs(self, inputs):
        """Pick (and for 'resize_concat' merge) the backbone features this head uses."""
        if not isinstance(inputs, (list, tuple)):
            raise TypeError(f'{type(self).__name__} expects the list of backbone features, got {type(inputs)}')
        indices = self.in_index if isinstance(self.in_index, list) else [self.in_index]
        for index in indices:
            if not -len(inputs) <= index < len(inputs):
                raise IndexError(f'in_index {index} is out of range for {len(inputs)} input features')
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return selected
        return self.resize_concat(selected)

    def resize_concat(self, features):
        """``features`` resized (bilinearly) to the size of the first one and concatenated along channels."""
        size = features[0].shape[2:]
        return jt.concat([resize(x, size=size, mode='bilinear', align_corners=self.align_corners)
                          for x in features], dim=1)

    def cls_seg(self, feat):
        """Dropout, then the 1x1 classifier conv."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return getattr(self, self.classifier_name)(feat)

    def init_weights(self):
        """Initialise like the official DFormer builder (``utils/init_func.init_weight``).

        Every conv weight gets Kaiming-normal (fan_in, ReLU); every norm layer
        gets weight 1 and bias 0. Conv biases and Linear layers keep their
        defaults.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                init.kaiming_normal_(module.weight, mode='fan_in', nonlinearity='relu')
            elif isinstance(module, (nn.BatchNorm, nn.GroupNorm, nn.LayerNorm)):
                if isinstance(getattr(module, 'weight', None), jt.Var):
                    init.constant_(module.weight, 1.0)
                if isinstance(getattr(module, 'bias', None), jt.Var):
                    init.constant_(module.bias, 0.0)

    def loss_modules(self):
        return list(self.loss_decode) if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]

    def loss(self, seg_logits, gt_seg):
        """Losses and pixel accuracy of ``seg_logits`` (N, C, h, w) against ``gt_seg`` (N, H, W).

        The logits are first resized (bilinear) to the label size. Returns
        ``{loss_name: Var, ..., 'acc_seg': Var}``.
        """
        if gt_seg.ndim == 4 and gt_seg.shape[1] == 1:
            gt_seg = gt_seg.squeeze(1)
        if gt_seg.ndim != 3 or gt_seg.shape[0] != seg_logits.shape[0]:
            raise ValueError(f'gt_seg must be (N, H, W) with N={seg_logits.shape[0]}, got {tuple(gt_seg.shape)}')
        gt_seg = gt_seg.int32()
        seg_logits = resize(seg_logits, size=gt_seg.shape[1:], mode='bilinear', align_corners=self.align_corners)
        losses = {}
        for loss_module in self.loss_modules():
            value = loss_module(seg_logits, gt_seg, ignore_index=self.ignore_index)
            name = loss_module.loss_name
            losses[name] = losses[name] + value if name in losses else value
        losses['acc_seg'] = accuracy(seg_logits, gt_seg, ignore_index=self.ignore_index)
        return losses

    def extra_repr(self):
        return (f'input_transform={self.input_transform}, ignore_index={self.ignore_index}, '
                f'align_corners={self.align_corners}')
