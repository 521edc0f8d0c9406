from .dformer import DFormer
from .dformerv2 import DFormerv2

__all__ = ['DFormer', 'DFormerv2']
