"""The optional packages of the deployment tools (``onnx``, ``onnxruntime``), imported on first use."""
import importlib

INSTALL_HINT = "pip install -r requirements/deploy.txt  (or: pip install -e '.[deploy]')"


class MissingDependencyError(ImportError):
    """An optional package of the deployment tools is not installed; the message says how to install it."""


def require(name):
    """Import ``name`` (``'onnx'`` or ``'onnxruntime'``), or say how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(f'the deployment tools need the {name!r} package, which is not installed '
                          f'({exc}); install it with: {INSTALL_HINT}') from exc
