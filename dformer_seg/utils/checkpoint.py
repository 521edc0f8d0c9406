"""Checkpoints: official PyTorch ``.pth`` files (read without torch) and our native ``.pkl`` format.

Official checkpoints are PyTorch zip archives: ``<root>/data.pkl`` holds the
pickled container, and every tensor storage is a raw little-endian byte file
``<root>/data/<key>``. They are unpickled with a restricted unpickler that
only knows how to rebuild tensors as numpy arrays; any other class in the
pickle is refused.

Checkpoints are untrusted input: every declared storage, tensor view and
array is checked against the bytes actually present before anything is
allocated, and every failure to read a file is a :class:`CheckpointError`
that names it.

The native format is a pickle of ``{'state_dict': {name: np.ndarray},
'meta': dict, ...}`` written atomically by :func:`save_checkpoint`.
"""
import collections
import functools
import io
import logging
import os
import pickle
import zipfile

import numpy as np

from .fileio import atomic_write

logger = logging.getLogger('dformer_seg')

# torch storage class name -> numpy dtype. Each storage file holds `numel` items of that type.
TORCH_STORAGE_DTYPES = {
    'FloatStorage': np.dtype('<f4'),
    'DoubleStorage': np.dtype('<f8'),
    'HalfStorage': np.dtype('<f2'),
    'BFloat16Storage': np.dtype('<u2'),  # widened to float32 after the tensor is built
    'LongStorage': np.dtype('<i8'),
    'IntStorage': np.dtype('<i4'),
    'ShortStorage': np.dtype('<i2'),
    'CharStorage': np.dtype('i1'),
    'ByteStorage': np.dtype('u1'),
    'BoolStorage': np.dtype('?'),
    'UntypedStorage': np.dtype('u1'),
}
# Keys under which checkpoints keep their state dict, in the order they are tried.
STATE_DICT_KEYS = ('model', 'state_dict', 'state_dict_ema')
# ImageNet-pretrained backbone files: DFormer v1 prefers the EMA weights, as the official loader does.
PRETRAINED_STATE_DICT_KEYS = ('state_dict_ema', 'state_dict', 'model')
# The first object of a pre-1.6 (non-zip) torch.save file.
LEGACY_TORCH_MAGIC = 0x1950a86a20f9469cfc6c
# The tensors built from one PyTorch file may hold at most this many times its bytes (plus 1 MiB): tied
# weights and views share storages, but a crafted file could make many tensors of one large storage.
TENSOR_BYTES_PER_FILE_BYTE = 4


class CheckpointError(Exception):
    """A checkpoint file cannot be read, or does not fit the model."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = TORCH_STORAGE_DTYPES[name]


class _BFloat16Array(np.ndarray):
    """A uint16 storage that holds bfloat16 bit patterns."""


class _Namespace:
    """Stand-in for ``argparse.Namespace`` objects that training scripts store beside the weights."""

    def __setstate__(self, state):
        self.__dict__.update(state if isinstance(state, dict) else {})


def _bfloat16_to_float32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _int_tuple(value, what):
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                         for v in value):
        raise CheckpointError(f'a tensor {what} must be a tuple of integers, got {value!r:.100}')
    return tuple(value)


def _tensor_numel(storage, size):
    """The element count of a tensor of ``size`` in ``storage``, refusing malformed entries and tensors
    larger than their storage (views that repeat elements, such as expanded tensors, could otherwise
    declare arrays of any size)."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise CheckpointError(f'a tensor must be built from a storage, got {type(storage).__name__}')
    size = _int_tuple(size, 'size')
    if min(size, default=0) < 0:
        raise CheckpointError(f'tensor size {size} has a negative dimension')
    numel = int(np.prod(size, dtype=object))
    if numel > storage.size:
        raise CheckpointError(f'tensor of size {size} ({numel} elements) is larger than its storage of '
                              f'{storage.size} elements')
    return numel


def _tensor_nbytes(storage, size):
    """Bytes of the array :func:`_rebuild_tensor` builds (bfloat16 is widened to float32)."""
    numel = _tensor_numel(storage, size)
    return numel * (4 if isinstance(storage, _BFloat16Array) else storage.itemsize)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """Build a numpy copy of a strided view into ``storage`` (a 1-D numpy array); the view must lie inside it."""
    numel = _tensor_numel(storage, size)
    if not isinstance(storage_offset, int) or isinstance(storage_offset, bool):
        raise CheckpointError(f'a tensor storage offset must be an integer, got {storage_offset!r:.100}')
    size, stride = tuple(size), _int_tuple(stride, 'stride')
    if len(size) != len(stride):
        raise CheckpointError(f'tensor with size {size} has stride {stride} of another length')
    if numel == 0:
        array = np.zeros(size, dtype=storage.dtype)
    else:
        last = int(storage_offset) + sum((n - 1) * s for n, s in zip(size, stride))
        if storage_offset < 0 or min(stride, default=0) < 0 or last >= storage.size:
            raise CheckpointError(f'tensor view (offset {storage_offset}, size {size}, stride {stride}) '
                                  f'lies outside its storage of {storage.size} elements')
        base = storage[int(storage_offset):]
        view = np.lib.stride_tricks.as_strided(base, shape=size,
                                               strides=tuple(s * storage.itemsize for s in stride))
        array = np.array(view, dtype=storage.dtype.newbyteorder('='), order='C', copy=True)
    if isinstance(storage, _BFloat16Array):
        array = _bfloat16_to_float32(array)
    return array


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    return data


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` of a torch zip checkpoint into numpy arrays, refusing unknown classes."""

    SAFE_GLOBALS = {
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
        ('argparse', 'Namespace'): _Namespace,
    }

    def __init__(self, data, read_record, path, tensor_budget):
        super().__init__(io.BytesIO(data))
        self._read_record = read_record
        self._path = path
        self._storages = {}
        self._tensor_bytes_left = tensor_budget

    def _rebuild_tensor_within_budget(self, storage, storage_offset, size, stride, *unused):
        self._tensor_bytes_left -= _tensor_nbytes(storage, size)
        if self._tensor_bytes_left < 0:
            raise CheckpointError(f'{self._path}: its tensors would hold more than {TENSOR_BYTES_PER_FILE_BYTE} '
                                  f'times the bytes of the file (many tensors built from the same storage)')
        return _rebuild_tensor(storage, storage_offset, size, stride)

    def find_class(self, module, name):
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return self._rebuild_tensor_within_budget
        if (module, name) in self.SAFE_GLOBALS:
            return self.SAFE_GLOBALS[(module, name)]
        if module in ('torch', 'torch.storage') and name in TORCH_STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(f'{self._path}: refusing to unpickle {module}.{name}; only tensors, '
                              f'storages and plain containers are allowed in a checkpoint')

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'):
            raise CheckpointError(f'{self._path}: unsupported persistent id {pid!r}')
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f'{self._path}: storage {key!r:.100} has an unknown type {storage_type!r:.100}')
        if not isinstance(key, str) or not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise CheckpointError(f'{self._path}: malformed storage entry (key {key!r:.100}, '
                                  f'element count {numel!r:.100})')
        if key not in self._storages:
            raw = self._read_record(f'data/{key}')
            dtype = storage_type.dtype
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f'{self._path}: storage {key} has {len(raw)} bytes, '
                                      f'expected {numel * dtype.itemsize} ({numel} x {dtype})')
            array = np.frombuffer(raw, dtype=dtype, count=numel)
            if storage_type.name == 'BFloat16Storage':
                array = array.view(_BFloat16Array)
            self._storages[key] = array
        return self._storages[key]


def load_torch_checkpoint(path):
    """Return the object stored by ``torch.save`` (zip format) with every tensor as a numpy array."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f'{path} is not a PyTorch zip checkpoint (legacy pre-1.6 torch.save files are '
                              f'not supported; re-save it with torch >= 1.6)')
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith('/data.pkl') and n.count('/') == 1]
            if len(pickles) != 1:
                raise CheckpointError(f'{path}: a PyTorch checkpoint has exactly one <root>/data.pkl, '
                                      f'found {pickles or "none"}')
            root = pickles[0][:-len('data.pkl')]
            byteorder = f'{root}byteorder'
            if byteorder in archive.namelist() and archive.read(byteorder).strip() != b'little':
                raise CheckpointError(f'{path}: big-endian checkpoints are not supported')

            file_size = os.path.getsize(path)

            def read_record(name):
                try:
                    info = archive.getinfo(root + name)
                except KeyError:
                    raise CheckpointError(f'{path}: missing record {root + name}') from None
                if info.file_size > file_size:  # only a compressed record can; torch stores them as they are
                    raise CheckpointError(f'{path}: record {info.filename} unpacks to {info.file_size} bytes, more '
                                          f'than the {file_size} bytes of the whole file')
                return archive.read(info)

            budget = TENSOR_BYTES_PER_FILE_BYTE * file_size + (1 << 20)
            return _TorchUnpickler(read_record('data.pkl'), read_record, path, budget).load()
    except CheckpointError as exc:
        raise CheckpointError(_naming(path, exc)) from exc
    except Exception as exc:  # anything else a malformed archive or pickle raises
        raise CheckpointError(f'{path}: corrupt PyTorch checkpoint ({type(exc).__name__}: {exc})') from exc


def _naming(path, exc):
    """The message of ``exc``, starting with the file name when it does not already."""
    message = str(exc)
    return message if message.startswith(str(path)) else f'{path}: {message}'


class _ArrayClass:
    """What ``numpy.ndarray`` unpickles to. numpy's pickles only name the class as the type argument of
    ``_reconstruct``; calling it, ``ndarray(shape, dtype)``, would allocate an array of the declared size
    that holds no bytes of the file. Such a call is recorded (:class:`_ArrayWithoutData`), allocating
    nothing, and refused after unpickling with the key it was stored under."""

    def __call__(self, *args, **kwargs):
        return _ArrayWithoutData(args, kwargs)


class _ArrayWithoutData:
    def __init__(self, args, kwargs):
        self.call = ', '.join([f'{a!r:.60}' for a in args] + [f'{k}={v!r:.60}' for k, v in kwargs.items()])


_NDARRAY = _ArrayClass()


def _reconstruct_empty_array(reconstruct, subtype, shape, dtype_code):
    """numpy's pickles start every array empty (``_reconstruct(ndarray, (0,), b'b')``) and fill it with
    ``__setstate__``, which checks the data length against the declared shape. Any other shape would
    allocate memory the file does not hold, so it is refused."""
    if subtype is not _NDARRAY or not isinstance(shape, tuple) or np.prod(shape, dtype=object) != 0:
        raise CheckpointError(f'malformed numpy array header (type {subtype!r:.100}, shape {shape!r:.100})')
    return reconstruct(np.ndarray, shape, dtype_code)


def _refuse_arrays_without_data(obj, path):
    """Raise :class:`CheckpointError` naming the first entry of ``obj`` built by ``ndarray(...)``."""
    stack, seen = [(obj, 'the top level')], set()
    while stack:
        value, where = stack.pop()
        if isinstance(value, _ArrayWithoutData):
            raise CheckpointError(f'{path}: {where} is an array created without data (numpy.ndarray('
                                  f'{value.call})): its values would be uninitialised memory, not bytes of the '
                                  f'file')
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            prefix = '' if where == 'the top level' else f'{where}/'
            stack.extend((v, f'{prefix}{k}') for k, v in value.items())
            stack.extend((k, f'{prefix}{k!r:.60} (a key)') for k in value)
        elif isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.dtype == object):
            stack.extend((v, f'{where}[{i}]') for i, v in enumerate(value.flat if isinstance(value, np.ndarray)
                                                                    else value))


class _NativeUnpickler(pickle.Unpickler):
    """Unpickles native checkpoints: containers, numpy arrays and numpy scalars only."""

    NUMPY_CLASSES = {'_reconstruct', 'ndarray', 'dtype', 'scalar'}

    def __init__(self, file, path):
        super().__init__(file)
        self._path = path

    def find_class(self, module, name):
        if module in ('numpy', 'numpy.core.multiarray', 'numpy._core.multiarray') and name in self.NUMPY_CLASSES:
            if name == 'ndarray':
                return _NDARRAY
            found = super().find_class(module, name)
            return functools.partial(_reconstruct_empty_array, found) if name == '_reconstruct' else found
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        raise CheckpointError(f'{self._path}: refusing to unpickle {module}.{name}; native checkpoints hold '
                              f'only containers and numpy arrays')


def _is_state_dict(obj):
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items())


def extract_state_dict(obj, keys=STATE_DICT_KEYS, source='checkpoint'):
    """Return the state dict inside a loaded checkpoint object (``{'model': sd}``, ..., or bare)."""
    if not isinstance(obj, dict):
        raise CheckpointError(f'{source}: expected a dict at the top level, got {type(obj).__name__}')
    for key in keys:
        if key in obj:
            if not _is_state_dict(obj[key]):
                raise CheckpointError(f'{source}: entry {key!r} is not a state dict of name -> tensor')
            return dict(obj[key])
    if obj and _is_state_dict(obj):
        return dict(obj)
    raise CheckpointError(f'{source}: no state dict found; expected one of the keys {list(keys)} '
                          f'or a bare name -> tensor dict, got keys {sorted(map(str, obj))[:10]}')


def read_checkpoint(path, state_dict_keys=STATE_DICT_KEYS):
    """Read an official ``.pth`` or a native checkpoint; returns a dict with ``state_dict`` and ``meta``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if zipfile.is_zipfile(path):
        state_dict = extract_state_dict(load_torch_checkpoint(path), state_dict_keys, source=path)
        return {'state_dict': state_dict, 'meta': {}}
    with open(path, 'rb') as f:
        try:
            obj = _NativeUnpickler(f, path).load()
        except CheckpointError as exc:
            raise CheckpointError(_naming(path, exc)) from exc
        except Exception as exc:  # anything else a malformed pickle raises
            raise CheckpointError(f'{path}: not a readable checkpoint (neither a PyTorch zip file nor a '
                                  f'native pickle): {type(exc).__name__}: {exc}') from exc
    _refuse_arrays_without_data(obj, path)
    if isinstance(obj, int) and obj == LEGACY_TORCH_MAGIC:
        raise CheckpointError(f'{path} uses the legacy (pre-1.6) torch.save format, which is not supported; '
                              f're-save it with torch >= 1.6')
    if not (isinstance(obj, dict) and 'state_dict' in obj):
        raise CheckpointError(f'{path}: unknown checkpoint format; a native checkpoint is a dict with a '
                              f"'state_dict' entry, got {type(obj).__name__}")
    if not _is_state_dict(obj['state_dict']):
        raise CheckpointError(f"{path}: 'state_dict' is not a dict of name -> numpy array")
    result = dict(obj)
    result.setdefault('meta', {})
    return result


def _to_numpy(value):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, 'numpy'):
        return np.asarray(value.numpy())
    raise TypeError(f'cannot store a {type(value).__name__} in a state dict; expected numpy arrays or jt.Var')


def save_checkpoint(path, state_dict, meta=None, **extra):
    """Write a native checkpoint atomically (:func:`~dformer_seg.utils.fileio.atomic_write`): a crash while
    writing leaves any old file intact."""
    payload = {'state_dict': {k: _to_numpy(v) for k, v in state_dict.items()}, 'meta': dict(meta or {})}
    payload.update(extra)
    with atomic_write(path) as f:
        pickle.dump(payload, f, protocol=4)
    return path


def _rename_keys(state_dict, prefix_map):
    renamed = {}
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        for old, new in (prefix_map or {}).items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        renamed[key] = value
    return renamed


def _shape_of(var):
    return tuple(int(s) for s in var.shape)


def _same_shape(model_shape, ckpt_shape):
    # Jittor has no 0-d variables: a scalar is stored with shape (1,).
    return model_shape == ckpt_shape or (ckpt_shape == () and model_shape == (1,))


def load_state_dict(module, state_dict, strict=True, prefix_map=None, logger=None):
    """Copy ``state_dict`` (name -> array) into ``module``'s parameters and buffers.

    ``num_batches_tracked`` entries are ignored and a leading ``module.`` is
    stripped. ``prefix_map`` (``{old_prefix: new_prefix}``) renames keys first.
    Returns ``(missing, unexpected, mismatched)``: model keys absent from the
    checkpoint, checkpoint keys the model lacks, and ``(key, model_shape,
    checkpoint_shape)`` triples. With ``strict`` any of them raises before
    anything is loaded; otherwise they are logged and the rest is loaded.
    """
    log = logger or logging.getLogger('dformer_seg')
    source = {k: v for k, v in _rename_keys(state_dict, prefix_map).items()
              if not k.endswith('num_batches_tracked')}
    targets = module.state_dict()
    missing = [k for k in targets if k not in source]
    unexpected = [k for k in source if k not in targets]
    mismatched = []
    for key, value in source.items():
        if key in targets:
            model_shape, ckpt_shape = _shape_of(targets[key]), tuple(np.shape(value))
            if not _same_shape(model_shape, ckpt_shape):
                mismatched.append((key, model_shape, ckpt_shape))
    if missing or unexpected or mismatched:
        report = _mismatch_report(missing, unexpected, mismatched)
        if strict:
            raise CheckpointError('the state dict does not match the model:\n' + report)
        log.warning('loading a state dict that does not match the model exactly:\n' + report)

    import jittor as jt
    skipped = {k for k, _, _ in mismatched}
    for key, value in source.items():
        if key in targets and key not in skipped:
            target = targets[key]
            array = np.asarray(_to_numpy(value)).astype(str(target.dtype)).reshape(_shape_of(target))
            target.update(jt.array(array))
    # Materialise the loaded values now: Jittor 1.3.11 fails to compile a kernel that fuses a
    # pending one-element array op (e.g. a 1-channel conv bias) into its first use.
    jt.sync_all()
    return missing, unexpected, mismatched


def _mismatch_report(missing, unexpected, mismatched, limit=50):
    def block(title, items):
        shown = items[:limit]
        more = f'\n    ... and {len(items) - limit} more' if len(items) > limit else ''
        return f'  {title} ({len(items)}):\n' + '\n'.join(f'    {item}' for item in shown) + more

    parts = []
    if missing:
        parts.append(block('missing keys (in the model, not in the checkpoint)', missing))
    if unexpected:
        parts.append(block('unexpected keys (in the checkpoint, not in the model)', unexpected))
    if mismatched:
        parts.append(block('shape mismatches (key, model shape, checkpoint shape)',
                           [f'{k}: model {m}, checkpoint {c}' for k, m, c in mismatched]))
    return '\n'.join(parts)
