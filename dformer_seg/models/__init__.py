"""Models; importing this package registers every backbone, head, loss and segmentor."""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from . import backbones, classifiers, decode_heads, losses, segmentors  # noqa: F401  (registration side effects)
from .base_model import BaseModel

__all__ = ['BaseModel']
