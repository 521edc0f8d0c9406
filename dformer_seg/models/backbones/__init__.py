from .dformer import DFormer

__all__ = ['DFormer']
