"""Import the repository's scripts (tools/...) as modules, for tests that call their functions."""
import importlib.util
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(path, module_name):
    """Execute the script ``path`` (absolute, or relative to the repository) as module ``module_name``;
    its folder is importable meanwhile (scripts import their neighbours: tools/infer.py uses tools/train.py)."""
    path = os.path.join(REPO, path)
    folder = os.path.dirname(path)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module
