"""The optional packages of the deployment tools (``onnx``, ``onnxruntime``), imported on first use."""
import importlib

INSTALL_HINT = "pip install -r requirements/deploy.txt  (or: pip install -e '.[deploy]')"


def require(name):
    """Import ``name`` (``'onnx'`` or ``'onnxruntime'``), or say how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f'the deployment tools need the {name!r} package, which is not installed '
                          f'({exc}); install it with: {INSTALL_HINT}') from exc
