"""Example project: a surface-slope depth encoding, a DFormer that mixes it into its depth
stream, and a hook that logs the learned mix. Importing the package registers all three."""
from .backbone import GeometryDFormer
from .hooks import GeometryMixLoggerHook
from .transforms import DepthToGeometry

__all__ = ['DepthToGeometry', 'GeometryDFormer', 'GeometryMixLoggerHook']
