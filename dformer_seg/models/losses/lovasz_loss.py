"""Lovasz-Softmax loss (Berman et al., CVPR 2018): a convex surrogate that optimises the IoU of each class."""
import jittor as jt
from jittor import nn

from ...registry import LOSSES
from .base import BaseLoss
from .utils import float_logits, one_hot_and_valid

CLASS_CHOICES = ('present', 'all')


def _lovasz_per_class(errors, foreground):
    """Lovasz extension of the Jaccard loss for every column: ``errors``, ``foreground`` are (M, C)."""
    order, _ = jt.argsort(errors, dim=0, descending=True)
    errors_sorted = errors.gather(0, order)
    foreground_sorted = foreground.gather(0, order).stop_grad()
    positives = foreground_sorted.sum(dim=0, keepdims=True)
    intersection = positives - foreground_sorted.cumsum(dim=0)
    union = positives + (1 - foreground_sorted).cumsum(dim=0)  # >= 1 everywhere
    jaccard = 1 - intersection / union
    # The gradient of the extension: differences of the Jaccard loss along the sorted order.
    steps = jt.concat([jaccard[:1], jaccard[1:] - jaccard[:-1]], dim=0)
    return (errors_sorted * steps).sum(dim=0)


def _lovasz_flat(prob, target, valid, classes):
    """Loss of the pixels of (C, M) probabilities; ignored pixels have error 0 and no foreground,
    so they sort last and leave the loss unchanged."""
    errors = ((target - prob).abs() * valid).transpose(1, 0)
    per_class = _lovasz_per_class(errors, target.transpose(1, 0))
    if classes == 'all':
        return per_class.mean()
    present = (target.sum(dim=1) > 0).cast(per_class.dtype)
    count = present.sum()
    return (per_class * present).sum() / jt.ternary(count > 0, count, jt.ones_like(count))


def lovasz_softmax_loss(logits, label, classes='present', per_image=False, ignore_index=255):
    """Mean over classes of the Lovasz-Softmax loss of the softmax probabilities.

    ``classes='present'`` averages over the classes labelled in the batch (or
    image, with ``per_image``), ``'all'`` over every class. ``per_image``
    computes the loss of each image and averages them.
    """
    if classes not in CLASS_CHOICES:
        raise ValueError(f'classes must be one of {CLASS_CHOICES}, got {classes!r}')
    logits = float_logits(logits)
    target, valid = one_hot_and_valid(logits, label, ignore_index, 'lovasz_softmax_loss')
    prob = nn.softmax(logits, dim=1)

    def flat(x, image=None):  # (N, C', *S) -> (C', M) over the batch or one image
        x = x if image is None else x[image:image + 1]
        return x.transpose([1, 0] + list(range(2, x.ndim))).reshape(x.shape[1], -1)

    if not per_image:
        return _lovasz_flat(flat(prob), flat(target), flat(valid), classes)
    losses = [_lovasz_flat(flat(prob, n), flat(target, n), flat(valid, n), classes) for n in range(logits.shape[0])]
    return jt.stack(losses).mean()


@LOSSES.register_module()
class LovaszLoss(BaseLoss):
    """Lovasz-Softmax loss (see :func:`lovasz_softmax_loss`); logged as ``loss_name`` (default ``loss_lovasz``).

    Args:
        classes: 'present' (classes labelled in the batch/image) or 'all'.
        per_image: average the losses of the images instead of one loss over the batch.
        loss_weight: factor applied to the loss.
        ignore_index: label value left out; a decode head passes its own.
    """

    def __init__(self, classes='present', per_image=False, loss_weight=1.0, ignore_index=255,
                 loss_name='loss_lovasz'):
        super().__init__(loss_weight, ignore_index, loss_name)
        if classes not in CLASS_CHOICES:
            raise ValueError(f'LovaszLoss classes must be one of {CLASS_CHOICES}, got {classes!r}')
        self.classes = classes
        self.per_image = bool(per_image)

    def loss(self, logits, label, ignore_index):
        return lovasz_softmax_loss(logits, label, self.classes, self.per_image, ignore_index)

    def extra_repr(self):
        return f'classes={self.classes!r}, per_image={self.per_image}, loss_weight={self.loss_weight}'
