import collections
import io
import os
import pickle
import sys
import tracemalloc
import types
import zipfile

import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg.utils import checkpoint as ckpt
from dformer_seg.utils import fileio
from dformer_seg.utils.checkpoint import (
    CheckpointError,
    load_state_dict,
    load_torch_checkpoint,
    read_checkpoint,
    save_checkpoint,
)

from parity_fixtures import fixture_dir, generate_weights, write_official_pth

# ---------------------------------------------------------------------------
# A minimal writer of the torch zip format, so that the reader can be tested on
# tensors the fixtures do not contain (strided views, every dtype). The pickle
# names torch's globals; fake modules stand in for torch while it is written.
# ---------------------------------------------------------------------------


class FakeStorage:
    def __init__(self, key, type_name, flat):
        self.key, self.type_name, self.flat = key, type_name, flat


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return sys.modules['torch._utils']._rebuild_tensor_v2, self.args


class TorchZipPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            storage_class = getattr(sys.modules['torch'], obj.type_name)
            return ('storage', storage_class, obj.key, 'cpu', obj.flat.size)
        return None


@pytest.fixture
def fake_torch(monkeypatch):
    torch_mod = types.ModuleType('torch')
    utils_mod = types.ModuleType('torch._utils')

    def _rebuild_tensor_v2(*args):
        raise AssertionError('never called while writing')

    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ckpt.TORCH_STORAGE_DTYPES:
        setattr(torch_mod, name, type(name, (), {'__module__': 'torch', '__qualname__': name}))
    monkeypatch.setitem(sys.modules, 'torch', torch_mod)
    monkeypatch.setitem(sys.modules, 'torch._utils', utils_mod)
    return torch_mod


def write_torch_zip(path, obj, storages, root='archive'):
    buffer = io.BytesIO()
    TorchZipPickler(buffer, protocol=2).dump(obj)
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr(f'{root}/data.pkl', buffer.getvalue())
        archive.writestr(f'{root}/byteorder', 'little')
        for storage in storages:
            archive.writestr(f'{root}/data/{storage.key}', storage.flat.astype(storage.flat.dtype.newbyteorder('<'))
                             .tobytes())
        archive.writestr(f'{root}/version', '3\n')


def contiguous(key, type_name, array):
    array = array.copy(order='C')
    storage = FakeStorage(key, type_name, array.reshape(-1))
    strides = [int(s) // array.itemsize for s in array.strides]
    return storage, FakeTensor(storage, 0, array.shape, strides)


def test_reads_every_dtype_and_strided_views(tmp_path, fake_torch):
    rng = np.random.default_rng(0)
    arrays = {
        'f32': rng.normal(size=(2, 3)).astype(np.float32),
        'f16': rng.normal(size=(4,)).astype(np.float16),
        'f64': rng.normal(size=(3, 1, 2)),
        'i64': np.array([1, -2, 3 << 40], dtype=np.int64),
        'i32': np.array([[7, -8]], dtype=np.int32),
        'u8': np.array([0, 255, 3], dtype=np.uint8),
        'bool': np.array([True, False, True]),
        'scalar': np.array(5, dtype=np.int64),
    }
    type_names = dict(f32='FloatStorage', f16='HalfStorage', f64='DoubleStorage', i64='LongStorage',
                      i32='IntStorage', u8='ByteStorage', bool='BoolStorage', scalar='LongStorage')
    storages, state = [], collections.OrderedDict()
    for i, (name, array) in enumerate(arrays.items()):
        storage, tensor = contiguous(str(i), type_names[name], array)
        storages.append(storage)
        state[name] = tensor
    # Two views into one shared storage: a transpose and an offset slice with a step.
    shared = FakeStorage('shared', 'FloatStorage', np.arange(24, dtype=np.float32))
    storages.append(shared)
    state['transposed'] = FakeTensor(shared, 0, (4, 6), (1, 4))
    state['offset_step'] = FakeTensor(shared, 3, (2, 3), (10, 2))
    # bfloat16 bit patterns of 1.0, -2.5 and 0.15625 (exact in bfloat16).
    bf16 = np.array([1.0, -2.5, 0.15625], dtype=np.float32).view(np.uint32) >> 16
    bf16_storage = FakeStorage('bf16', 'BFloat16Storage', bf16.astype(np.uint16))
    storages.append(bf16_storage)
    state['bf16'] = FakeTensor(bf16_storage, 0, (3,), (1,))

    path = str(tmp_path / 'all.pth')
    write_torch_zip(path, {'model': state}, storages)
    sd = read_checkpoint(path)['state_dict']

    for name, array in arrays.items():
        assert sd[name].dtype == array.dtype, name
        np.testing.assert_array_equal(sd[name], array)
    base = np.arange(24, dtype=np.float32)
    np.testing.assert_array_equal(sd['transposed'], base.reshape(6, 4).T)
    np.testing.assert_array_equal(sd['offset_step'], np.array([[3, 5, 7], [13, 15, 17]], dtype=np.float32))
    assert sd['transposed'].flags['C_CONTIGUOUS'] and sd['transposed'].flags['OWNDATA']
    np.testing.assert_array_equal(sd['bf16'], np.array([1.0, -2.5, 0.15625], dtype=np.float32))


@pytest.mark.parametrize('container', ['model', 'state_dict', 'state_dict_ema', None])
def test_state_dict_containers(tmp_path, fake_torch, container):
    storage, tensor = contiguous('0', 'FloatStorage', np.ones((2, 2), np.float32))
    sd = collections.OrderedDict(w=tensor)
    obj = sd if container is None else {container: sd, 'epoch': 3}
    path = str(tmp_path / 'c.pth')
    write_torch_zip(path, obj, [storage], root='weights')
    result = read_checkpoint(path)
    assert list(result['state_dict']) == ['w'] and result['meta'] == {}
    np.testing.assert_array_equal(result['state_dict']['w'], np.ones((2, 2), np.float32))


def test_refuses_unknown_classes(tmp_path, fake_torch):
    path = str(tmp_path / 'evil.pth')
    write_torch_zip(path, {'model': {}, 'call': os.getcwd}, [])
    with pytest.raises(CheckpointError, match=r'refusing to unpickle posix\.getcwd'):
        load_torch_checkpoint(path)


def test_view_outside_storage_is_an_error(tmp_path, fake_torch):
    storage = FakeStorage('0', 'FloatStorage', np.zeros(4, np.float32))
    path = str(tmp_path / 'bad_view.pth')
    write_torch_zip(path, {'model': {'w': FakeTensor(storage, 2, (3,), (1,))}}, [storage])
    with pytest.raises(CheckpointError, match='outside its storage'):
        read_checkpoint(path)


def test_missing_storage_record_is_an_error(tmp_path, fake_torch):
    storage = FakeStorage('7', 'FloatStorage', np.zeros(4, np.float32))
    path = str(tmp_path / 'no_record.pth')
    write_torch_zip(path, {'model': {'w': FakeTensor(storage, 0, (4,), (1,))}}, [])
    with pytest.raises(CheckpointError, match='missing record archive/data/7'):
        read_checkpoint(path)


def test_error_paths_name_the_file(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_checkpoint(missing)

    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'this is not a checkpoint at all')
    with pytest.raises(CheckpointError, match='garbage.pth'):
        read_checkpoint(str(garbage))

    legacy = tmp_path / 'legacy.pth'
    with open(legacy, 'wb') as f:
        pickle.dump(ckpt.LEGACY_TORCH_MAGIC, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
    with pytest.raises(CheckpointError, match='legacy'):
        read_checkpoint(str(legacy))
    with pytest.raises(CheckpointError, match='legacy'):
        load_torch_checkpoint(str(legacy))

    unknown = tmp_path / 'unknown.pkl'
    unknown.write_bytes(pickle.dumps({'weights': {}}))
    with pytest.raises(CheckpointError, match="unknown.pkl: unknown checkpoint format"):
        read_checkpoint(str(unknown))

    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps({'state_dict': {}, 'meta': {'f': os.getcwd}}))
    with pytest.raises(CheckpointError, match='evil.pkl: refusing'):
        read_checkpoint(str(evil))

    whole = tmp_path / 'whole.pkl'
    save_checkpoint(str(whole), {'w': np.arange(1000, dtype=np.float32)}, meta=dict(epoch=1))
    data = whole.read_bytes()
    for cut in (len(data) // 2, len(data) - 1):
        truncated = tmp_path / 'truncated.pkl'
        truncated.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=r'truncated\.pkl: not a readable checkpoint'):
            read_checkpoint(str(truncated))

    whole_pth = write_official_pth(str(tmp_path / 'whole.pth'), generate_weights(fixture_dir('dformer_v1_mini')))
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(whole_pth, 'rb').read()[:100000])
    with pytest.raises(CheckpointError, match='truncated.pth'):
        read_checkpoint(str(truncated))


@pytest.mark.parametrize('name', ['dformer_v1_mini', 'dformer_v2_mini'])
def test_official_format_fixture_weights_read_back(name, tmp_path):
    expected = generate_weights(fixture_dir(name))
    state_dict = read_checkpoint(write_official_pth(str(tmp_path / 'weights.pth'), expected))['state_dict']
    assert list(state_dict) == list(expected)
    for key, value in expected.items():
        assert state_dict[key].dtype == value.dtype and state_dict[key].shape == value.shape, key
        np.testing.assert_array_equal(state_dict[key], value, err_msg=key)


def test_native_round_trip(tmp_path):
    path = str(tmp_path / 'sub' / 'model.pkl')
    weights = {'a.weight': np.arange(6, dtype=np.float32).reshape(2, 3), 'a.bias': jt.array([1.0, 2.0])}
    save_checkpoint(path, weights, meta={'epoch': 4, 'classes': ['wall', 'floor']},
                    optimizer={'lr': 0.1, 'moments': [np.zeros(3)]})
    loaded = read_checkpoint(path)
    assert loaded['meta'] == {'epoch': 4, 'classes': ['wall', 'floor']}
    np.testing.assert_array_equal(loaded['state_dict']['a.weight'], weights['a.weight'])
    np.testing.assert_array_equal(loaded['state_dict']['a.bias'], np.array([1.0, 2.0], np.float32))
    assert loaded['optimizer']['lr'] == 0.1
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~fileio._current_umask()
    np.testing.assert_array_equal(loaded['optimizer']['moments'][0], np.zeros(3))


def test_native_write_is_atomic(tmp_path, monkeypatch):
    path = str(tmp_path / 'model.pkl')
    save_checkpoint(path, {'w': np.ones(2, np.float32)}, meta={'version': 1})

    def failing_dump(obj, f, protocol=None):
        f.write(b'partial bytes')
        raise OSError('disk full')

    monkeypatch.setattr(ckpt.pickle, 'dump', failing_dump)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint(path, {'w': np.zeros(2, np.float32)}, meta={'version': 2})
    monkeypatch.undo()
    loaded = read_checkpoint(path)
    assert loaded['meta'] == {'version': 1}
    np.testing.assert_array_equal(loaded['state_dict']['w'], np.ones(2, np.float32))
    assert os.listdir(tmp_path) == ['model.pkl']


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.bn = nn.BatchNorm(3)


def tiny_state(scale=1.0):
    return {
        'conv.weight': np.full((3, 2, 1, 1), 0.5 * scale, np.float32),
        'conv.bias': np.array([1, 2, 3], np.float32) * scale,
        'bn.weight': np.full(3, 2.0 * scale, np.float32),
        'bn.bias': np.full(3, -1.0 * scale, np.float32),
        'bn.running_mean': np.full(3, 0.25 * scale, np.float32),
        'bn.running_var': np.full(3, 4.0 * scale, np.float32),
        'bn.num_batches_tracked': np.array(10, np.int64),
    }


def test_load_state_dict_loads_parameters_and_buffers():
    net = TinyNet()
    state = {'module.' + k: v for k, v in tiny_state().items()}
    missing, unexpected, mismatched = load_state_dict(net, state)
    assert (missing, unexpected, mismatched) == ([], [], [])
    current = net.state_dict()
    for key, value in tiny_state().items():
        if not key.endswith('num_batches_tracked'):
            np.testing.assert_array_equal(current[key].numpy(), value, err_msg=key)
    assert not net.conv.weight.is_stop_grad()


def test_load_state_dict_strict_lists_every_offender():
    net = TinyNet()
    state = tiny_state()
    del state['bn.bias']
    state['head.weight'] = np.zeros(1, np.float32)
    state['conv.weight'] = np.zeros((3, 4, 1, 1), np.float32)
    before = net.conv.bias.numpy().copy()
    with pytest.raises(CheckpointError) as info:
        load_state_dict(net, state)
    message = str(info.value)
    assert 'missing keys' in message and 'bn.bias' in message
    assert 'unexpected keys' in message and 'head.weight' in message
    assert 'conv.weight: model (3, 2, 1, 1), checkpoint (3, 4, 1, 1)' in message
    np.testing.assert_array_equal(net.conv.bias.numpy(), before)  # strict failure loads nothing

    missing, unexpected, mismatched = load_state_dict(net, state, strict=False)
    assert missing == ['bn.bias'] and unexpected == ['head.weight']
    assert mismatched == [('conv.weight', (3, 2, 1, 1), (3, 4, 1, 1))]
    np.testing.assert_array_equal(net.conv.bias.numpy(), np.array([1, 2, 3], np.float32))


def test_load_state_dict_prefix_map():
    net = TinyNet()
    state = {k.replace('conv.', 'stem.'): v for k, v in tiny_state(2.0).items()}
    load_state_dict(net, state, prefix_map={'stem.': 'conv.'})
    np.testing.assert_array_equal(net.conv.bias.numpy(), np.array([2, 4, 6], np.float32))


def test_loaded_one_element_parameter_is_usable():
    """Regression: a loaded 1-element bias used to break the next kernel compile in Jittor 1.3.11."""
    import jittor as jt
    from jittor import nn
    conv = nn.Conv2d(3, 1, 1)
    load_state_dict(conv, {'weight': np.ones((1, 3, 1, 1), 'float32'), 'bias': np.full((1,), 0.5, 'float32')})
    assert float(conv(jt.ones((1, 3, 2, 2))).mean()) == pytest.approx(3.5)


# ---------------------------------------------------------------------------
# Crafted (malicious or damaged) checkpoints: every failure is a CheckpointError naming the file, and nothing
# is allocated beyond the bytes the file holds.
# ---------------------------------------------------------------------------


class CraftedStorage(FakeStorage):
    """A storage whose persistent id declares ``numel`` and ``key`` as given (any type)."""

    def __init__(self, key, numel, flat):
        super().__init__(key, 'FloatStorage', flat)
        self.numel = numel


class CraftedPickler(TorchZipPickler):
    def persistent_id(self, obj):
        if isinstance(obj, CraftedStorage):
            return ('storage', sys.modules['torch'].FloatStorage, obj.key, 'cpu', obj.numel)
        return super().persistent_id(obj)


def write_crafted_zip(path, obj, records):
    buffer = io.BytesIO()
    CraftedPickler(buffer, protocol=2).dump(obj)
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('archive/data.pkl', buffer.getvalue())
        for key, data in records.items():
            archive.writestr(f'archive/data/{key}', data)


@pytest.mark.parametrize('storage, offset, size, stride, message', [
    ('not a storage', 0, (2,), (1,), 'must be built from a storage, got str'),  # was AttributeError
    (None, 'zero', (2,), (1,), 'storage offset must be an integer'),
    (None, 0, ('2',), (1,), 'size must be a tuple of integers'),
    (None, 0, (-1, 2), (1, 1), 'negative dimension'),
    # A huge array declared over 4 floats by repeating them (stride 0): was MemoryError (7.28 TiB).
    (None, 0, (10 ** 6, 10 ** 6), (0, 0), r'\(1000000000000 elements\) is larger than its storage of 4'),
])
def test_malformed_tensor_entries_are_refused(tmp_path, fake_torch, storage, offset, size, stride, message):
    real = FakeStorage('0', 'FloatStorage', np.zeros(4, np.float32))
    tensor = FakeTensor(real if storage is None else storage, offset, size, stride)
    tensor.args = (tensor.args[0], offset) + tensor.args[2:]
    path = str(tmp_path / 'crafted.pth')
    write_torch_zip(path, {'model': {'w': tensor}}, [real])
    with pytest.raises(CheckpointError, match=rf'crafted\.pth: .*{message}'):
        read_checkpoint(path)


@pytest.mark.parametrize('key, numel', [('0', -1), ('0', 'many'), (['0'], 4), ('0', 10 ** 12)])
def test_malformed_storage_entries_are_refused(tmp_path, fake_torch, key, numel):
    storage = CraftedStorage(key, numel, np.zeros(4, np.float32))
    path = str(tmp_path / 'crafted.pth')
    write_crafted_zip(path, {'model': {'w': FakeTensor(storage, 0, (4,), (1,))}},
                      {'0': np.zeros(4, np.float32).tobytes()})
    with pytest.raises(CheckpointError, match=r'crafted\.pth: (malformed storage entry|storage 0 has 16 bytes)'):
        read_checkpoint(path)


class HugeArrayHeader:
    """Pickles as numpy's array constructor with a huge shape (numpy itself always writes (0,))."""

    def __reduce__(self):
        return np.core.multiarray._reconstruct, (np.ndarray, (10 ** 6, 10 ** 6), b'b')


def test_native_pickle_declaring_a_huge_array_is_refused(tmp_path):
    path = tmp_path / 'huge.pkl'
    path.write_bytes(pickle.dumps({'state_dict': {'w': HugeArrayHeader()}, 'meta': {}}, protocol=4))
    with pytest.raises(CheckpointError, match=r'huge\.pkl: malformed numpy array header'):  # was MemoryError
        read_checkpoint(str(path))
    short = tmp_path / 'short.pkl'
    short.write_bytes(pickle.dumps({'state_dict': {'w': ShortArray()}}, protocol=4))
    with pytest.raises(CheckpointError, match=r'short\.pkl: not a readable checkpoint.*buffer size'):
        read_checkpoint(str(short))


class ArrayWithoutData:
    """Pickles as a call of numpy's array constructor, ``numpy.ndarray(shape, dtype)``: an array of the
    declared size whose values are whatever memory it got (numpy itself never writes this)."""

    def __init__(self, shape, dtype='float32'):
        self.shape, self.dtype = shape, dtype

    def __reduce__(self):
        return np.ndarray, (self.shape, self.dtype)


def test_an_array_without_data_is_refused_naming_its_key(tmp_path):
    path = tmp_path / 'unfilled.pkl'
    path.write_bytes(pickle.dumps({'state_dict': {'ok': np.ones(3, np.float32), 'w': ArrayWithoutData((3, 4))},
                                   'meta': {}}, protocol=4))
    with pytest.raises(CheckpointError, match=r'unfilled\.pkl: state_dict/w is an array created without data'):
        read_checkpoint(str(path))
    nested = tmp_path / 'nested.pkl'
    nested.write_bytes(pickle.dumps({'state_dict': {}, 'optimizer': {'m': [np.zeros(2), ArrayWithoutData((5,))]}}))
    with pytest.raises(CheckpointError, match=r'nested\.pkl: optimizer/m\[1\] is an array created without data'):
        read_checkpoint(str(nested))


def test_a_tiny_file_declaring_a_huge_array_fails_before_allocating(tmp_path):
    path = tmp_path / 'tiny.pkl'
    path.write_bytes(pickle.dumps(ArrayWithoutData((2 ** 30,), 'float64'), protocol=2))  # 8 GiB declared
    assert path.stat().st_size < 64
    tracemalloc.start()  # numpy reports its array buffers to tracemalloc
    try:
        with pytest.raises(CheckpointError, match=r'tiny\.pkl: the top level is an array created without data'):
            read_checkpoint(str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


class ShortArray:
    """An array that declares a million floats but holds the bytes of four."""

    def __reduce__(self):
        state = (1, (10 ** 6,), np.dtype(np.float32), False, b'\0' * 16)
        return np.core.multiarray._reconstruct, (np.ndarray, (0,), b'b'), state


def test_truncated_and_damaged_zip_files_are_refused(tmp_path, fake_torch):
    storage, tensor = contiguous('0', 'FloatStorage', np.arange(4096, dtype=np.float32))
    good = tmp_path / 'good.pth'
    write_torch_zip(str(good), {'model': {'w': tensor}}, [storage])
    data = good.read_bytes()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=r'truncated\.pth'):
        read_checkpoint(str(truncated))
    damaged = tmp_path / 'damaged.pth'  # the central directory is intact, a record's bytes are not
    start = data.index(np.arange(4096, dtype=np.float32).tobytes()[:64])
    damaged.write_bytes(data[:start + 100] + b'\xff' * 64 + data[start + 164:])
    with pytest.raises(CheckpointError, match=r'damaged\.pth: corrupt PyTorch checkpoint \(BadZipFile'):
        read_checkpoint(str(damaged))


def test_compressed_records_cannot_unpack_beyond_the_file_size(tmp_path, fake_torch):
    storage, tensor = contiguous('0', 'FloatStorage', np.zeros(4 << 20, np.float32))  # 16 MiB of zeros
    stored = tmp_path / 'stored.pth'
    write_torch_zip(str(stored), {'model': {'w': tensor}}, [storage])
    bomb = tmp_path / 'bomb.pth'  # the same archive deflated: 16 MiB of zeros pack into a few KiB
    with zipfile.ZipFile(stored) as source, zipfile.ZipFile(bomb, 'w', zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(CheckpointError, match=r'bomb\.pth: record archive/data/0 unpacks to 16777216 bytes, '
                                              r'more than the \d+ bytes of the whole file'):
        read_checkpoint(str(bomb))
    assert read_checkpoint(str(stored))['state_dict']['w'].shape == (4 << 20,)


def test_many_tensors_of_one_storage_are_bounded_by_the_file_size(tmp_path, fake_torch):
    storage, tensor = contiguous('0', 'FloatStorage', np.zeros(1 << 18, np.float32))  # 1 MiB
    views = {f'w{i}': FakeTensor(storage, 0, (1 << 18,), (1,)) for i in range(8)}
    path = str(tmp_path / 'many.pth')
    write_torch_zip(path, {'model': views}, [storage])
    with pytest.raises(CheckpointError, match=r'many\.pth: its tensors would hold more than 4 times the bytes'):
        read_checkpoint(path)
    tied = str(tmp_path / 'tied.pth')  # two tensors of one storage (tied weights) are fine
    write_torch_zip(tied, {'model': {'a': tensor, 'b': FakeTensor(storage, 0, (1 << 18,), (1,))}}, [storage])
    assert sorted(read_checkpoint(tied)['state_dict']) == ['a', 'b']
