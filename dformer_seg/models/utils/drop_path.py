import jittor as jt
from jittor import nn


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample while training."""

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    @property
    def active(self):
        return self.drop_prob > 0.0 and self.is_training()

    def _sample_factor(self, x):
        """Per-sample 0 or 1 / keep_prob, shaped (B, 1, ..., 1) for ``x``."""
        keep_prob = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return (jt.rand(shape, dtype=x.dtype) + keep_prob).floor() / keep_prob

    def execute(self, x):
        if not self.active:
            return x
        return x * self._sample_factor(x)

    def branch_scale(self, scale, x):
        """The factor ``f`` with ``self(scale * y) == f * y`` for a branch ``y`` shaped like ``x``.

        ``scale`` (e.g. a layer scale over the last axis, or None for none)
        comes back unchanged when the layer is inactive, so that
        ``residual + f * y`` can be fused into the op that computes ``y``.
        """
        if not self.active:
            return scale
        factor = self._sample_factor(x)
        return factor if scale is None else scale * factor
