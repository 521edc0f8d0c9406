"""The part every loss module shares: its weight, its logged name and the label value it leaves out."""
from jittor import nn


class BaseLoss(nn.Module):
    """A weighted loss term of a decode head.

    A subclass computes the unweighted loss in :meth:`loss`; calling the module applies ``loss_weight``.

    Args:
        loss_weight: factor applied to the loss.
        ignore_index: label value left out; a decode head passes its own at each call.
        loss_name: key of the loss in the head's loss dict. It must contain 'loss': the engine only
            back-propagates such entries.
    """

    def __init__(self, loss_weight=1.0, ignore_index=255, loss_name='loss'):
        super().__init__()
        if 'loss' not in str(loss_name):
            raise ValueError(f'loss_name must contain "loss" (only such entries are optimised), got {loss_name!r}')
        self.loss_weight = float(loss_weight)
        self.ignore_index = ignore_index
        self._loss_name = str(loss_name)

    @property
    def loss_name(self):
        return self._loss_name

    def loss(self, logits, label, ignore_index, **options):
        """The unweighted loss of ``logits`` (N, C, *S) against ``label`` (N, *S)."""
        raise NotImplementedError(f'{type(self).__name__} must implement loss()')

    def execute(self, logits, label, ignore_index=None, **options):
        ignore_index = self.ignore_index if ignore_index is None else ignore_index
        return self.loss(logits, label, ignore_index, **options) * self.loss_weight
