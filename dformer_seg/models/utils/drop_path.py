import jittor as jt
from jittor import nn


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample while training."""

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def execute(self, x):
        if self.drop_prob == 0.0 or not self.is_training():
            return x
        keep_prob = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = (jt.rand(shape, dtype=x.dtype) + keep_prob).floor()
        return x / keep_prob * mask
