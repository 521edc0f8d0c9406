"""Training transforms on the second modality (depth, thermal, HHA, ...)."""
import numpy as np

from ...registry import PIPELINES
from .compose import BaseTransform
from .rng import current_rng


@PIPELINES.register_module()
class ModalityDropout(BaseTransform):
    """Replace a sample's whole depth by the missing-depth value with probability ``prob``.

    The value is the one ``LoadDepthFromFile(missing_value=...)`` gives a sample
    without depth (``inference_model(model, rgb)``), so a model trained with
    this transform has seen exactly what it gets when depth is unavailable, and
    degrades gracefully instead of failing (docs/data.md has the measured effect).
    Put it after LoadDepthFromFile and before Normalize; ``prob=1`` removes the
    depth of every sample (an evaluation without depth).
    """

    def __init__(self, prob=0.3):
        if not 0.0 <= float(prob) <= 1.0:
            raise ValueError(f'ModalityDropout prob must be in [0, 1], got {prob!r}')
        self.prob = float(prob)

    def transform(self, results):
        if 'depth' not in results or 'depth_missing_value' not in results:
            raise KeyError('ModalityDropout needs the depth: put it after LoadDepthFromFile')
        if results.get('depth_normalized'):
            raise ValueError('ModalityDropout must come before Normalize: the missing-depth value is in the '
                             '0..255 units of the loaded map')
        drop = self.prob >= 1.0 or (self.prob > 0.0 and current_rng().random() < self.prob)
        if drop:
            depth, value = results['depth'], results['depth_missing_value']
            dtype = depth.dtype if depth.dtype == np.uint8 and float(value).is_integer() else np.float32
            results['depth'] = np.full(depth.shape, value, dtype=dtype)
        results['depth_dropped'] = drop
        return results
