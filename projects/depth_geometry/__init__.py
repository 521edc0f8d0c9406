"""Example project: a surface-slope depth encoding, a DFormer that mixes it into its depth
stream, and a hook that logs the learned mix. Importing the package registers all three."""
import dformer_seg  # noqa: F401  (prepares the Jittor runtime; must come before any `import jittor`)

from .backbone import GeometryDFormer
from .hooks import GeometryMixLoggerHook
from .transforms import DepthToGeometry

__all__ = ['DepthToGeometry', 'GeometryDFormer', 'GeometryMixLoggerHook']
