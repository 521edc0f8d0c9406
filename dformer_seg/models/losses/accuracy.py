"""Pixel accuracy (in percent) of dense predictions."""
import jittor as jt
from jittor import nn

from .utils import check_logits_and_label


def accuracy(pred, target, topk=1, thresh=None, ignore_index=None):
    """Percentage of pixels whose label is among the ``topk`` highest scores.

    Args:
        pred: scores (N, C, *S).
        target: integer labels (N, *S).
        topk: an int, or a tuple of ints for several accuracies at once.
        thresh: if given, a prediction only counts when its score is > thresh.
        ignore_index: label value left out of the count.

    Returns:
        A scalar jt.Var (or a tuple of them for a tuple ``topk``) in [0, 100];
        0 when every pixel is ignored. No gradient flows through it.
    """
    single = isinstance(topk, int)
    ks = (topk,) if single else tuple(topk)
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f'topk must be a positive int or a tuple of them, got {topk!r}')
    check_logits_and_label(pred, target, 'accuracy')
    max_k = max(ks)
    if max_k > pred.shape[1]:
        raise ValueError(f'topk {max_k} exceeds the number of classes {pred.shape[1]}')

    with jt.no_grad():
        pred = pred.detach().float32()
        target = target.detach().int32()
        valid = target != ignore_index if ignore_index is not None else jt.ones(target.shape, dtype='bool')
        num_valid = valid.float32().sum()
        denominator = jt.ternary(num_valid > 0, num_valid, jt.ones_like(num_valid))
        if max_k == 1:
            top_labels, top_scores = jt.argmax(pred, 1)
            top_labels, top_scores = top_labels.unsqueeze(1), top_scores.unsqueeze(1)
        else:
            top_scores, top_labels = jt.topk(pred, max_k, dim=1)
        hits = top_labels == target.unsqueeze(1)
        if thresh is not None:
            hits = hits & (top_scores > thresh)
        results = []
        for k in ks:
            correct = (hits[:, :k].any(dim=1) & valid).float32().sum()
            results.append(correct * 100.0 / denominator)
    return results[0] if single else tuple(results)


class Accuracy(nn.Module):
    """Module wrapper of :func:`accuracy`."""

    def __init__(self, topk=(1,), thresh=None, ignore_index=None):
        super().__init__()
        self.topk = topk
        self.thresh = thresh
        self.ignore_index = ignore_index

    def execute(self, pred, target):
        return accuracy(pred, target, self.topk, self.thresh, self.ignore_index)
