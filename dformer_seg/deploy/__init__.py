"""Deployment: ONNX export of the segmentors (validated in ONNX Runtime) and ONNX Runtime inference.

Importing this package needs neither ``onnx`` nor ``onnxruntime``; the
functions that use them import them on first use and say how to install
them when they are missing (``pip install -r requirements/deploy.txt``).
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .dependencies import INSTALL_HINT, require
from .errors import ExportError, UnsupportedModuleError, VerificationError
from .export import (DEFAULT_OPSET, MAX_ABS_ERROR, MIN_AGREEMENT, SIZE_DIVISOR, Verification, check_shape,
                     depth_channels_of, export_onnx, ort_session, verify_onnx)
from .modules import register_module_emitter, register_traceable_module
from .op_emitters import OP_EMITTERS
from .runtime import OnnxSegmentor

__all__ = ['DEFAULT_OPSET', 'INSTALL_HINT', 'MAX_ABS_ERROR', 'MIN_AGREEMENT', 'OP_EMITTERS', 'SIZE_DIVISOR',
           'ExportError', 'OnnxSegmentor', 'UnsupportedModuleError', 'Verification', 'VerificationError', 'check_shape',
           'depth_channels_of', 'export_onnx', 'ort_session', 'register_module_emitter',
           'register_traceable_module', 'require', 'verify_onnx']
