"""Softmax focal loss (Lin et al., 2017): cross-entropy that down-weights pixels already classified well."""
import jittor as jt
from jittor import nn

from ...registry import LOSSES
from .base import BaseLoss
from .utils import float_logits, load_class_weight, one_hot_and_valid


def focal_loss(logits, label, gamma=2.0, class_weight=None, ignore_index=255):
    """``sum(w[y] (1 - p_y)^gamma (-log p_y)) / sum(w[y])`` over the non-ignored pixels.

    ``p_y`` is the softmax probability of the true class; ``w`` the class
    weights (alpha), 1 without them. ``gamma=0`` gives the cross-entropy. An
    all-ignored batch gives 0.
    """
    logits = float_logits(logits)
    target, valid = one_hot_and_valid(logits, label, ignore_index, 'focal_loss')
    log_prob = (nn.log_softmax(logits, dim=1) * target).sum(dim=1)  # log p_y; 0 at ignored pixels
    modulation = (1 - log_prob.exp()).maximum(0).pow(gamma)
    pixel_weight = valid.squeeze(1)
    if class_weight is not None:
        weight = jt.array(class_weight).cast(logits.dtype)
        if weight.shape[0] != logits.shape[1]:
            raise ValueError(f'focal_loss: class_weight has {weight.shape[0]} entries for {logits.shape[1]} '
                             f'classes')
        shape = (1, logits.shape[1]) + (1,) * (logits.ndim - 2)
        pixel_weight = (target * weight.reshape(shape)).sum(dim=1)
    total_weight = pixel_weight.sum()
    total = (-modulation * log_prob * pixel_weight).sum()
    return total / jt.ternary(total_weight > 0, total_weight, jt.ones_like(total_weight))


@LOSSES.register_module()
class FocalLoss(BaseLoss):
    """Softmax focal loss (see :func:`focal_loss`); logged as ``loss_name`` (default ``loss_focal``).

    Args:
        gamma: focusing exponent (0: cross-entropy).
        class_weight: per-class weights (the alpha of the paper), a list or a ``.npy`` path.
        loss_weight: factor applied to the loss.
        ignore_index: label value left out; a decode head passes its own.
    """

    def __init__(self, gamma=2.0, class_weight=None, loss_weight=1.0, ignore_index=255, loss_name='loss_focal'):
        super().__init__(loss_weight, ignore_index, loss_name)
        if gamma < 0:
            raise ValueError(f'FocalLoss needs gamma >= 0, got {gamma}')
        self.gamma = float(gamma)
        self.class_weight = load_class_weight(class_weight)

    def loss(self, logits, label, ignore_index):
        return focal_loss(logits, label, self.gamma, self.class_weight, ignore_index)

    def extra_repr(self):
        return f'gamma={self.gamma}, loss_weight={self.loss_weight}'
