"""Deployment: ONNX export of the segmentors (validated in ONNX Runtime) and ONNX Runtime inference.

``dformer_seg.apis`` uses this package (``init_model`` of an ``.onnx`` file); this package does not
use ``dformer_seg.apis``.

Importing this package needs neither ``onnx`` nor ``onnxruntime``; the
functions that use them import them on first use and say how to install
them when they are missing (``pip install -r requirements/deploy.txt``).
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .dependencies import INSTALL_HINT, MissingDependencyError, require
from .errors import ExportArgumentError, ExportError, UnsupportedModuleError, VerificationError
from .export import (
    DEFAULT_OPSET,
    MAX_ABS_ERROR,
    MIN_AGREEMENT,
    SIZE_DIVISOR,
    Verification,
    check_shape,
    export_onnx,
    ort_session,
    verify_onnx,
)
from .modules import register_module_emitter, register_traceable_module
from .onnx_session import OnnxSegmentor
from .op_emitters import OP_EMITTERS

__all__ = ['DEFAULT_OPSET', 'INSTALL_HINT', 'MAX_ABS_ERROR', 'MIN_AGREEMENT', 'OP_EMITTERS', 'SIZE_DIVISOR',
           'ExportArgumentError', 'ExportError', 'MissingDependencyError', 'OnnxSegmentor', 'UnsupportedModuleError',
           'Verification', 'VerificationError', 'check_shape', 'export_onnx', 'ort_session', 'register_module_emitter',
           'register_traceable_module', 'require', 'verify_onnx']
