"""Registered data transforms (PIPELINES), composed from config lists."""
from .classification import (
    CenterCropResize,
    ColorJitter,
    LoadDepthAnySize,
    PackClsInputs,
    RandomErasing,
    RandomResizedCrop,
)
from .compose import BaseTransform, Compose
from .corruptions import CORRUPTIONS, Corrupt, with_corruption
from .formatting import DEFAULT_META_KEYS, PackSegInputs
from .geometric import Pad, RandomCrop, RandomFlip, RandomResize, Resize
from .loading import LoadAnnotations, LoadDepthFromFile, LoadImageFromFile
from .modality import ModalityDropout
from .photometric import Normalize, PhotoMetricDistortion, normalize_array
from .rand_augment import RandAugment
from .rng import current_rng, sample_rng, using_rng

__all__ = [
    'BaseTransform', 'Compose', 'DEFAULT_META_KEYS', 'PackSegInputs', 'Pad', 'RandomCrop', 'RandomFlip',
    'RandomResize', 'Resize', 'LoadAnnotations', 'LoadDepthFromFile', 'LoadImageFromFile', 'ModalityDropout',
    'Normalize', 'PhotoMetricDistortion', 'normalize_array', 'current_rng', 'sample_rng', 'using_rng',
    'CenterCropResize', 'ColorJitter', 'LoadDepthAnySize', 'PackClsInputs', 'RandAugment', 'RandomErasing',
    'RandomResizedCrop',
]
__all__ += ['CORRUPTIONS', 'Corrupt', 'with_corruption']
