"""Write PyTorch's checkpoint format (``torch.save``'s zip layout) without PyTorch.

The archive holds ``<root>/data.pkl`` (a protocol-2 pickle), one record
``<root>/data/<key>`` per tensor storage (little-endian, 64-byte aligned as
torch writes them), ``<root>/byteorder`` and ``<root>/version``. Tensors are
pickled as ``torch._utils._rebuild_tensor_v2(storage, 0, size, stride,
False, OrderedDict())`` with the storage as a persistent id, and dicts of
them as ``collections.OrderedDict``: only what ``torch.load(...,
weights_only=True)`` accepts.
"""
import collections
import io
import pickle
import struct
import zipfile

import numpy as np

from ..utils.checkpoint import TORCH_STORAGE_DTYPES
from ..utils.fileio import atomic_write

# numpy dtype -> torch storage class name: the reader's table (utils/checkpoint.py) turned round, for the
# dtypes numpy has (bfloat16 has no numpy dtype; an untyped storage is never written).
STORAGE_TYPES = {dtype.newbyteorder('='): name for name, dtype in TORCH_STORAGE_DTYPES.items()
                 if name not in ('BFloat16Storage', 'UntypedStorage')}
ALIGNMENT = 64
FORMAT_VERSION = b'3\n'


class _Global:
    """A reference to ``module.name``, pickled as a GLOBAL opcode without importing the module."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle requires reduce functions to be callable; this one only names one
        raise TypeError(f'{self.module}.{self.name} is a pickled reference, not callable here')


REBUILD_TENSOR = _Global('torch._utils', '_rebuild_tensor_v2')
ORDERED_DICT = _Global('collections', 'OrderedDict')


class _Storage:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, tuple(int(s) for s in shape)

    def strides(self):
        strides, step = [], 1
        for size in reversed(self.shape):
            strides.append(step)
            step *= size
        return tuple(reversed(strides))


class _TorchPickler(pickle._Pickler):
    """The pure-Python pickler, writing ``_Global`` references, tensors and storages the way torch does."""

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def reducer_override(self, obj):
        if isinstance(obj, _Global):
            return obj.name  # a string: pickled through save_global
        if isinstance(obj, _Tensor):
            return REBUILD_TENSOR, (obj.storage, 0, obj.shape, obj.strides(), False, _EmptyOrderedDict())
        if isinstance(obj, _EmptyOrderedDict):
            return ORDERED_DICT, ()
        if isinstance(obj, collections.OrderedDict):
            return ORDERED_DICT, (), None, None, iter(obj.items())
        return NotImplemented

    def save_global(self, obj, name=None):
        if not isinstance(obj, _Global):
            return super().save_global(obj, name)
        self.write(pickle.GLOBAL + f'{obj.module}\n{obj.name}\n'.encode('ascii'))
        self.memoize(obj)

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ('storage', _Global('torch', STORAGE_TYPES[obj.array.dtype]), obj.key, 'cpu', obj.array.size)
        return None


class _EmptyOrderedDict:
    """The (empty) backward-hooks argument of ``_rebuild_tensor_v2``."""


def _as_tensors(obj, storages):
    """``obj`` with every numpy array replaced by a tensor record (its storage appended to ``storages``)."""
    if isinstance(obj, np.ndarray):
        array = np.array(obj, order='C', copy=False)  # (np.ascontiguousarray would make 0-d arrays 1-d)
        if array.dtype not in STORAGE_TYPES:
            raise TypeError(f'cannot write a {array.dtype} array to a PyTorch checkpoint')
        array = array.astype(array.dtype.newbyteorder('<'), copy=False)
        storage = _Storage(str(len(storages)), array)
        storages.append(storage)
        return _Tensor(storage, array.shape)
    if isinstance(obj, dict):
        container = collections.OrderedDict if isinstance(obj, collections.OrderedDict) else dict
        return container((key, _as_tensors(value, storages)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_as_tensors(value, storages) for value in obj)
    return obj


def _write_aligned(archive, name, data):
    """Store ``data`` uncompressed with its first byte on an ``ALIGNMENT`` boundary (padding extra field)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    header_end = archive.fp.tell() + 30 + len(name.encode('utf-8')) + 4
    padding = (-header_end) % ALIGNMENT
    info.extra = struct.pack('<HH', 0x4650, padding) + b'Z' * padding  # 0x4650: torch's padding record id
    archive.writestr(info, data)


def save_torch_checkpoint(obj, path, root='archive'):
    """Write ``obj`` (dicts, lists, numbers, strings and numpy arrays) as ``torch.save`` would, atomically."""
    storages = []
    converted = _as_tensors(obj, storages)
    buffer = io.BytesIO()
    _TorchPickler(buffer).dump(converted)
    with atomic_write(path) as f, zipfile.ZipFile(f, 'w', compression=zipfile.ZIP_STORED) as archive:
        _write_aligned(archive, f'{root}/data.pkl', buffer.getvalue())
        _write_aligned(archive, f'{root}/byteorder', b'little')
        for storage in storages:
            _write_aligned(archive, f'{root}/data/{storage.key}', storage.array.tobytes())
        _write_aligned(archive, f'{root}/version', FORMAT_VERSION)
