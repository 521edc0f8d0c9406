"""Softmax and sigmoid cross-entropy for dense prediction.

Reductions follow PyTorch's ``F.cross_entropy(weight=w, ignore_index=i)``:
with ``reduction='mean'`` the loss is ``sum(w[y] * nll) / sum(w[y])`` over the
pixels whose label is not ``ignore_index``. Without class weights this is the
plain mean over non-ignored pixels, which is what the official DFormer training
criterion computes. ``avg_non_ignore=False`` keeps mmseg's older behaviour of
dividing by the number of all pixels, ignored ones included.
"""
import jittor as jt

from ... import ops
from ...registry import LOSSES
from .base import BaseLoss
from .utils import check_logits_and_label, load_class_weight

REDUCTIONS = ('none', 'mean', 'sum')


def _one_hot_mask(label, num_classes):
    """(N, *S) int label -> (N, C, *S) bool mask, all False where label is outside [0, C)."""
    shape = (label.shape[0], num_classes) + tuple(label.shape[1:])
    class_index = jt.index(shape, dim=1)
    return class_index == label.unsqueeze(1)


def _check_label_range(label, valid, num_classes, who):
    bad = (valid & ((label < 0) | (label >= num_classes))).any()
    if bool(bad.item()):
        raise ValueError(f'{who}: label values must be in [0, {num_classes}) or equal to ignore_index')


def _weighted_mean(total, weight_sum):
    # An all-ignored batch gives 0 instead of PyTorch's NaN.
    return total / jt.ternary(weight_sum > 0, weight_sum, jt.ones_like(weight_sum))


def cross_entropy(logits, label, class_weight=None, reduction='mean', ignore_index=255, avg_non_ignore=True):
    """Softmax cross-entropy of ``logits`` (N, C, *S) against integer ``label`` (N, *S).

    ``class_weight``: None or a (C,) jt.Var/sequence. Pixels labelled
    ``ignore_index`` contribute neither loss nor weight.
    """
    check_logits_and_label(logits, label, 'cross_entropy')
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
    num_classes = logits.shape[1]
    label = label.int32()
    valid = label != ignore_index if ignore_index is not None else jt.ones(label.shape, dtype='bool')
    _check_label_range(label, valid, num_classes, 'cross_entropy')

    nll = ops.softmax_cross_entropy(logits.float32(), label, ignore_index)  # 0 at ignored pixels
    pixel_weight = valid.float32()
    if class_weight is not None:
        safe_label = jt.ternary(valid, label, jt.zeros_like(label))  # any class index; these pixels get weight 0
        class_weight = jt.array(class_weight).float32() if not isinstance(class_weight, jt.Var) else class_weight
        if tuple(class_weight.shape) != (num_classes,):
            raise ValueError(f'cross_entropy: class_weight has shape {tuple(class_weight.shape)}, '
                             f'expected ({num_classes},)')
        pixel_weight = pixel_weight * class_weight[safe_label.reshape(-1)].reshape(label.shape)
    loss = nll * pixel_weight

    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if avg_non_ignore:
        return _weighted_mean(loss.sum(), pixel_weight.sum())
    return loss.sum() / label.numel()


def binary_cross_entropy(logits, label, class_weight=None, reduction='mean', ignore_index=255,
                         avg_non_ignore=True):
    """Sigmoid cross-entropy, one binary problem per class.

    ``logits`` (N, C, *S) with integer ``label`` (N, *S): labels are one-hot
    expanded to C channels. With C == 1 the label itself must be 0 or 1.
    ``class_weight`` is the positive-class weight per class (PyTorch
    ``pos_weight``). The mean runs over the non-ignored elements (pixels times
    classes); ``avg_non_ignore=False`` divides by all elements instead.
    """
    check_logits_and_label(logits, label, 'binary_cross_entropy')
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
    num_classes = logits.shape[1]
    label = label.int32()
    valid = label != ignore_index if ignore_index is not None else jt.ones(label.shape, dtype='bool')
    logits = logits.float32()
    if num_classes == 1:
        _check_label_range(label, valid, 2, 'binary_cross_entropy')
        target = (label == 1).float32().unsqueeze(1)
    else:
        _check_label_range(label, valid, num_classes, 'binary_cross_entropy')
        target = _one_hot_mask(label, num_classes).float32()
    element_valid = valid.float32().unsqueeze(1).broadcast(logits.shape)

    # Stable form of -[p*y*log(sigmoid(x)) + (1-y)*log(1-sigmoid(x))] with p the positive weight.
    log_sigmoid_neg = jt.log(1 + jt.exp(-logits.abs())) + jt.maximum(-logits, 0)  # -log(sigmoid(x))
    if class_weight is not None:
        class_weight = jt.array(class_weight).float32() if not isinstance(class_weight, jt.Var) else class_weight
        if tuple(class_weight.shape) != (num_classes,):
            raise ValueError(f'binary_cross_entropy: class_weight has shape {tuple(class_weight.shape)}, '
                             f'expected ({num_classes},)')
        pos_weight = class_weight.reshape((1, num_classes) + (1,) * (logits.ndim - 2))
        loss = (1 - target) * logits + (1 + (pos_weight - 1) * target) * log_sigmoid_neg
    else:
        loss = (1 - target) * logits + log_sigmoid_neg
    loss = loss * element_valid

    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if avg_non_ignore:
        return _weighted_mean(loss.sum(), element_valid.sum())
    return loss.sum() / loss.numel()


@LOSSES.register_module()
class CrossEntropyLoss(BaseLoss):
    """Cross-entropy loss module for decode heads.

    Args:
        use_sigmoid: per-class sigmoid (binary) cross-entropy instead of softmax.
        reduction: 'mean' | 'sum' | 'none'.
        class_weight: per-class weights: a list of numbers or a ``.npy`` path.
        loss_weight: factor applied to the loss.
        ignore_index: label value that is ignored; a head passes its own.
        avg_non_ignore: for 'mean', divide by the (weighted) count of
            non-ignored pixels (True, PyTorch semantics) or by all pixels.
        loss_name: key of this loss in the head's loss dict; it must contain
            'loss' (the engine only back-propagates such keys).
    """

    def __init__(self, use_sigmoid=False, reduction='mean', class_weight=None, loss_weight=1.0, ignore_index=255,
                 avg_non_ignore=True, loss_name='loss_ce'):
        super().__init__(loss_weight, ignore_index, loss_name)
        if reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got {reduction!r}')
        self.use_sigmoid = bool(use_sigmoid)
        self.reduction = reduction
        # Kept as numpy so that it never shows up in a model's state dict.
        self.class_weight = load_class_weight(class_weight)
        self.avg_non_ignore = bool(avg_non_ignore)

    def loss(self, logits, label, ignore_index, reduction_override=None):
        """``logits`` (N, C, H, W), ``label`` (N, H, W) int -> scalar loss (or per-pixel with 'none')."""
        reduction = reduction_override or self.reduction
        criterion = binary_cross_entropy if self.use_sigmoid else cross_entropy
        return criterion(logits, label, class_weight=self.class_weight, reduction=reduction,
                         ignore_index=ignore_index, avg_non_ignore=self.avg_non_ignore)

    def extra_repr(self):
        return (f'use_sigmoid={self.use_sigmoid}, loss_weight={self.loss_weight}, '
                f'avg_non_ignore={self.avg_non_ignore}, loss_name={self.loss_name!r}')
