"""Errors of the ONNX export."""


class ExportError(RuntimeError):
    """The model (or a value in it) cannot be written as ONNX; the message says what and where."""


class UnsupportedModuleError(ExportError):
    """A module the exporter has neither an emitter for nor knows to be traceable."""


class VerificationError(ExportError):
    """The exported model does not reproduce the Jittor logits within tolerance."""


class ExportArgumentError(ExportError, ValueError):
    """An export argument (shape, opset, output) that cannot be used; also a ValueError."""
