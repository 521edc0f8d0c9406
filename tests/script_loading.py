"""Import the repository's scripts (tools/...) as modules, for tests that call their functions."""
import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(path, module_name):
    """Execute the script ``path`` (absolute, or relative to the repository) as module ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
