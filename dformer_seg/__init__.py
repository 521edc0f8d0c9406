"""dformer_seg: an RGB-D semantic segmentation toolbox on Jittor.

Importing the package has no side effects: call :func:`dformer_seg.runtime.setup`
before importing anything that imports Jittor (the tools do it for you).
"""
import logging as _logging

from .version import __version__

_logging.getLogger('dformer_seg').addHandler(_logging.NullHandler())

__all__ = ['__version__']
