"""Helpers shared by the data set converters in tools/dataset_converters/."""
import os
import shutil

from .errors import DataError


def require_folders(root, folders, dataset, layout):
    """Stop unless every one of ``folders`` exists under ``root``, describing the expected ``layout``."""
    if not os.path.isdir(root):
        raise DataError(f'{dataset}: {root} is not a folder (expected the released layout: {layout})')
    missing = [f for f in folders if not os.path.isdir(os.path.join(root, f))]
    if missing:
        raise DataError(f'{dataset}: {root} does not look like the released data: no {", ".join(missing)} '
                        f'folder (expected {layout}; wrong folder?)')


def read_name_list(path, what):
    """The non-empty, non-comment lines of a list file (split or scene list)."""
    if not os.path.isfile(path):
        raise DataError(f'{what} not found: {path}')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip() and not line.startswith('#')]
    if not names:
        raise DataError(f'{what} {path} is empty')
    return names


def write_split(out, split, names):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f'{split}.txt'), 'w', encoding='utf-8') as f:
        f.write(''.join(f'{name}\n' for name in names))


def copy_file(source, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)
