"""Soft Dice loss over the softmax probabilities, against class imbalance."""
import jittor as jt
from jittor import nn

from ...registry import LOSSES
from .base import BaseLoss
from .utils import float_logits, load_class_weight, one_hot_and_valid


def dice_loss(logits, label, smooth=1.0, exponent=2, class_weight=None, ignore_index=255):
    """Mean over images and classes of ``1 - (2 sum(p t) + smooth) / (sum(p^e) + sum(t^e) + smooth)``.

    ``p`` is the softmax probability of a class, ``t`` its one-hot label and
    the sums run over the non-ignored pixels of one image. A class absent from
    an image still counts (its loss is small when it is not predicted);
    ``class_weight`` turns the class mean into a weighted mean.
    """
    logits = float_logits(logits)
    target, valid = one_hot_and_valid(logits, label, ignore_index, 'dice_loss')
    prob = nn.softmax(logits, dim=1) * valid
    spatial = tuple(range(2, logits.ndim))
    intersection = (prob * target).sum(dims=spatial)
    denominator = prob.pow(exponent).sum(dims=spatial) + target.pow(exponent).sum(dims=spatial)
    per_class = 1 - (2 * intersection + smooth) / (denominator + smooth)  # (N, C)
    if class_weight is None:
        return per_class.mean()
    weight = jt.array(class_weight).cast(per_class.dtype)
    if weight.shape[0] != logits.shape[1]:
        raise ValueError(f'dice_loss: class_weight has {weight.shape[0]} entries for {logits.shape[1]} classes')
    return (per_class * weight).sum(dim=1).mean() / weight.sum()


@LOSSES.register_module()
class DiceLoss(BaseLoss):
    """Soft Dice loss (see :func:`dice_loss`); logged as ``loss_name`` (default ``loss_dice``).

    Args:
        smooth: added to numerator and denominator (keeps empty classes finite).
        exponent: power of the probabilities and labels in the denominator.
        class_weight: per-class weights (a list or a ``.npy`` path).
        loss_weight: factor applied to the loss.
        ignore_index: label value left out; a decode head passes its own.
    """

    def __init__(self, smooth=1.0, exponent=2, class_weight=None, loss_weight=1.0, ignore_index=255,
                 loss_name='loss_dice'):
        super().__init__(loss_weight, ignore_index, loss_name)
        if smooth < 0 or exponent <= 0:
            raise ValueError(f'DiceLoss needs smooth >= 0 and exponent > 0, got {smooth} and {exponent}')
        self.smooth = float(smooth)
        self.exponent = exponent
        self.class_weight = load_class_weight(class_weight)

    def loss(self, logits, label, ignore_index):
        return dice_loss(logits, label, self.smooth, self.exponent, self.class_weight, ignore_index)

    def extra_repr(self):
        return f'smooth={self.smooth}, exponent={self.exponent}, loss_weight={self.loss_weight}'
