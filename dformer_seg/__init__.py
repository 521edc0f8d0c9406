"""dformer_seg: an RGB-D semantic segmentation toolbox on Jittor."""
import logging as _logging
import sys as _sys

from .runtime import describe as _describe, prepare_environment as _prepare_environment
from .version import __version__

_prepare_environment()
if not _logging.getLogger('dformer_seg').handlers:
    _handler = _logging.StreamHandler(_sys.stderr)
    _handler.setFormatter(_logging.Formatter('%(asctime)s - %(name)s - %(levelname)s - %(message)s'))
    _logging.getLogger('dformer_seg').addHandler(_handler)
    _logging.getLogger('dformer_seg').setLevel(_logging.INFO)
_logging.getLogger('dformer_seg').info(_describe())

__all__ = ['__version__']
