"""tools/model_converters/jittor2dformer.py: the official checkpoint layout, written without torch.

That PyTorch loads the written ``.pth`` is checked with ``torch.load(path, weights_only=True)`` where torch
is importable, and otherwise with the reader below: zipfile + a ``pickle.Unpickler`` with torch's
weights-only rules (OrderedDict, ``torch._utils._rebuild_tensor_v2`` and the storage classes; any other
global is refused) and ``persistent_load`` of the storage records. It shares no code with the writer
(``dformer_seg/deploy/torch_format.py``) or with the project's reader (``dformer_seg/utils/checkpoint.py``).
The loaded state dict must then load into the official model with ``strict=True``: the key set of
``tests/fixtures/checkpoint-keys/`` (the official models' state dicts), with their shapes and dtypes.
"""
import collections
import importlib.util
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.utils.checkpoint import load_torch_checkpoint, read_checkpoint, save_checkpoint

from script_loading import REPO, load_script

KEYS_DIR = os.path.join(REPO, 'tests', 'fixtures', 'checkpoint-keys')
TORCH_AVAILABLE = importlib.util.find_spec('torch') is not None
STORAGE_DTYPES = {'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
                  'LongStorage': np.int64, 'IntStorage': np.int32, 'ShortStorage': np.int16, 'CharStorage': np.int8,
                  'ByteStorage': np.uint8, 'BoolStorage': np.bool_}


class _StorageType:
    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name]).newbyteorder('<')


def _rebuild_tensor(storage, offset, size, stride, requires_grad, backward_hooks):
    if requires_grad or backward_hooks:
        raise pickle.UnpicklingError('a checkpoint tensor with requires_grad or backward hooks')
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(step * storage.itemsize for step in stride)).copy()


class WeightsOnlyUnpickler(pickle.Unpickler):
    """The pickle of a torch zip archive under torch.load's weights-only rules (for a state dict of tensors)."""

    def __init__(self, archive, root):
        super().__init__(io.BytesIO(archive.read(f'{root}/data.pkl')))
        self.archive, self.root = archive, root

    def find_class(self, module, name):
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return _rebuild_tensor
        if module == 'torch' and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f'weights_only load refuses the global {module}.{name}')

    def persistent_load(self, pid):
        kind, storage_type, key, location, numel = pid
        if kind != 'storage' or not isinstance(storage_type, _StorageType) or location != 'cpu':
            raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')
        storage = np.frombuffer(self.archive.read(f'{self.root}/data/{key}'), dtype=storage_type.dtype)
        if storage.size != numel:
            raise pickle.UnpicklingError(f'storage {key} has {storage.size} elements; the pickle says {numel}')
        return storage


def read_weights_only(path):
    """The reader of the module docstring: a torch zip archive's object, tensors as numpy arrays."""
    with zipfile.ZipFile(path) as archive:
        root = archive.namelist()[0].split('/')[0]
        assert archive.read(f'{root}/byteorder') == b'little' and archive.read(f'{root}/version') == b'3\n'
        return WeightsOnlyUnpickler(archive, root).load()


def load_as_pytorch(path):
    """``torch.load(path, weights_only=True)`` (tensors as numpy arrays), by torch or by the reader above."""
    if not TORCH_AVAILABLE:
        return read_weights_only(path)
    import torch
    return {k: {n: t.numpy() for n, t in v.items()} if isinstance(v, dict) else v
            for k, v in torch.load(path, weights_only=True).items()}


def assert_loads_strictly(state, official):
    """``load_state_dict(state, strict=True)`` into the official model: no missing or unexpected key, and
    every shape and dtype as in the official state dict (rows of ``official_keys``)."""
    expected = {key: (shape, dtype.replace('torch.', '')) for key, shape, dtype in official}
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    assert not missing and not unexpected, f'missing {missing[:5]}, unexpected {unexpected[:5]}'
    wrong = [(k, tuple(v.shape), str(v.dtype)) for k, v in state.items()
             if (tuple(v.shape), str(v.dtype)) != expected[k]]
    assert not wrong, f'shape or dtype differs from the official model: {wrong[:5]}'


@pytest.fixture(scope='module')
def converter():
    return load_script('tools/model_converters/jittor2dformer.py', 'jittor2dformer_tool')


def official_keys(name):
    with open(os.path.join(KEYS_DIR, name)) as f:
        rows = [line.rstrip('\n').split('\t') for line in f][1:]
    return [(key, tuple(int(s) for s in shape.split(',') if s), dtype) for key, shape, dtype in rows]


def native_checkpoint(config, path, seed=0):
    """A native checkpoint of ``config``'s model with random weights and BatchNorm statistics."""
    model = init_model(config, device='cpu')
    rng = np.random.default_rng(seed)
    weights = {k: (rng.standard_normal(v.shape).astype(np.float32) if 'running_var' not in k
                   else rng.uniform(0.5, 2.0, v.shape).astype(np.float32)) for k, v in model.state_dict().items()}
    save_checkpoint(path, weights, meta=dict(iteration=10))
    return weights


def test_dformer_tiny_round_trip_has_the_official_layout(converter, tmp_path, capsys):
    config = os.path.join(REPO, 'configs', 'dformer', 'dformer_tiny_nyu.py')
    weights = native_checkpoint(config, str(tmp_path / 'tiny.pkl'))
    out = str(tmp_path / 'tiny.pth')
    assert converter.main([str(tmp_path / 'tiny.pkl'), out, '--config', config]) == 0
    assert '13 num_batches_tracked restored' in capsys.readouterr().out

    raw = load_torch_checkpoint(out)
    assert list(raw) == ['model']
    state = raw['model']
    assert [(k, tuple(v.shape), str(v.dtype)) for k, v in state.items()] == [
        (k, s, d.replace('torch.', '')) for k, s, d in official_keys('DFormer-Tiny.tsv')]
    for key, value in weights.items():  # bit-exact through the project's own .pth reader
        assert state[key].dtype == value.dtype and state[key].tobytes() == value.tobytes(), key
    assert read_checkpoint(out)['state_dict'].keys() == state.keys()

    pytorch = load_as_pytorch(out)
    assert list(pytorch) == ['model']
    assert_loads_strictly(pytorch['model'], official_keys('DFormer-Tiny.tsv'))
    for key, value in weights.items():
        assert np.array_equal(pytorch['model'][key], value), key
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names[:2] == ['archive/data.pkl', 'archive/byteorder'] and names[-1] == 'archive/version'
        for info in archive.infolist():  # records are stored, their data 64-byte aligned like torch's
            data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
            assert info.compress_type == zipfile.ZIP_STORED and data_start % 64 == 0, info.filename


def test_dformerv2_keys_are_the_official_ones(converter, tmp_path):
    model = init_model(os.path.join(REPO, 'configs', 'dformerv2', 'dformerv2_s_nyu.py'), device='cpu')
    weights = {k: np.zeros(v.shape, np.float32) for k, v in model.state_dict().items()}
    state = converter.to_official_state_dict(weights)
    assert [(k, tuple(v.shape)) for k, v in state.items()] == [(k, s) for k, s, _ in official_keys('DFormerv2_S.tsv')]
    save_checkpoint(str(tmp_path / 'v2s.pkl'), weights)
    assert converter.main([str(tmp_path / 'v2s.pkl'), str(tmp_path / 'v2s.pth')]) == 0
    assert_loads_strictly(load_as_pytorch(str(tmp_path / 'v2s.pth'))['model'], official_keys('DFormerv2_S.tsv'))


def test_pytorch_loads_it_with_weights_only(converter, tmp_path):
    """With torch where it is importable, else with the weights-only reader of this file (module docstring)."""
    weights = dict(a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array(3, dtype=np.int64))
    weights['bn.running_mean'] = np.zeros(2, np.float32)
    weights['bn.running_var'] = np.ones(2, np.float32)
    save_checkpoint(str(tmp_path / 'w.pkl'), weights)
    assert converter.main([str(tmp_path / 'w.pkl'), str(tmp_path / 'w.pth')]) == 0
    loaded = load_as_pytorch(str(tmp_path / 'w.pth'))['model']
    assert list(loaded) == ['a', 'b', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']
    for key, value in weights.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        assert np.array_equal(loaded[key], value)
    assert loaded['bn.num_batches_tracked'].dtype == np.int64 and loaded['bn.num_batches_tracked'].shape == ()
    assert loaded['bn.num_batches_tracked'] == 0


def test_the_reader_refuses_what_weights_only_refuses(tmp_path):
    """The reader's own check: a pickle naming any other global (here os.system) is refused, as by torch."""
    path = tmp_path / 'evil.pth'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', b'\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.')
        archive.writestr('archive/byteorder', 'little')
        archive.writestr('archive/version', '3\n')
    with pytest.raises(pickle.UnpicklingError, match='refuses the global os.system'):
        read_weights_only(str(path))


def test_bad_input(converter, tmp_path, capsys):
    assert converter.main([str(tmp_path / 'missing.pkl'), str(tmp_path / 'out.pth')]) == 1
    save_checkpoint(str(tmp_path / 'small.pkl'), dict(w=np.zeros(2, np.float32)))
    config = os.path.join(REPO, 'configs', 'dformer', 'dformer_tiny_nyu.py')
    assert converter.main([str(tmp_path / 'small.pkl'), str(tmp_path / 'out.pth'), '--config', config]) == 1
    err = capsys.readouterr().err
    assert 'missing.pkl' in err and 'does not match' in err
    assert not (tmp_path / 'out.pth').exists()
