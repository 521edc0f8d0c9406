"""Access to the reference-output fixtures of the official PyTorch DFormer code.

The weights of the fixtures are regenerated here from the documented rule
(``tests/fixtures/parity/README.md``, "Weight rule"), so the repository does
not carry them; :func:`write_official_pth` writes them as an official-format
``.pth`` for the tests that read one.
"""
import json
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES_DIR = os.path.join(HERE, 'fixtures', 'parity')


def fixture_dir(name):
    path = os.path.join(FIXTURES_DIR, name)
    if not os.path.isfile(os.path.join(path, 'keys.tsv')):
        raise FileNotFoundError(f'parity fixture {name} not found: {path}/keys.tsv')
    return path


def read_keys(path):
    rows = []
    with open(os.path.join(path, 'keys.tsv')) as f:
        header = f.readline().rstrip('\n').split('\t')
        for line in f:
            values = dict(zip(header, line.rstrip('\n').split('\t')))
            shape = tuple(int(s) for s in values['shape'].split(',')) if values['shape'] else ()
            rows.append((values['key'], shape, values['dtype'], values.get('rule')))
    return rows


def generate_weights(path):
    """Rebuild the fixture's state dict (name -> numpy array) from keys.tsv."""
    rng = np.random.default_rng(seed=1234)
    weights = {}
    for key, shape, dtype, rule in read_keys(path):
        kind, _, arg = rule.partition(':')
        if kind == 'fanin_normal':
            value = rng.normal(0.0, 1.0 / np.sqrt(int(arg)), size=shape)
        elif kind == 'norm_weight':
            value = rng.uniform(0.8, 1.2, size=shape)
        elif kind == 'bias':
            value = rng.normal(0.0, 0.02, size=shape)
        elif kind == 'bn_mean':
            value = rng.normal(0.0, 0.1, size=shape)
        elif kind == 'bn_var':
            value = rng.uniform(0.5, 1.5, size=shape)
        elif kind == 'zeros':
            value = np.zeros(shape)
        elif kind == 'layer_scale':
            value = rng.uniform(0.1, 0.5, size=shape)
        elif kind == 'geo_weight':
            value = rng.uniform(0.5, 1.5, size=shape)
        elif kind == 'const':
            value = np.array([float.fromhex(v) for v in arg.split(',')]).reshape(shape)
        else:
            raise ValueError(f'unknown weight rule {rule!r} for {key}')
        weights[key] = np.asarray(value).astype(dtype)
    return weights


def load_config(path):
    with open(os.path.join(path, 'config.json')) as f:
        return json.load(f)


def load_npz(path, name):
    with np.load(os.path.join(path, name)) as data:
        return {k: data[k] for k in data.files}


CHECKPOINT_KEYS_DIR = os.path.join(HERE, 'fixtures', 'checkpoint-keys')


def official_checkpoint_keys(filename, prefix=''):
    """name -> shape of the rows of ``fixtures/checkpoint-keys/<filename>`` under ``prefix`` (stripped).

    BatchNorm ``num_batches_tracked`` rows are left out: Jittor's BatchNorm has no such buffer.
    """
    keys = {}
    with open(os.path.join(CHECKPOINT_KEYS_DIR, filename)) as f:
        next(f)
        for line in f:
            key, shape, _ = line.rstrip('\n').split('\t')
            if key.startswith(prefix) and not key.endswith('num_batches_tracked'):
                keys[key[len(prefix):]] = tuple(int(s) for s in shape.split(',')) if shape else ()
    return keys


# Storage class of each dtype in torch's pickles.
TORCH_STORAGES = {np.dtype(np.float32): 'FloatStorage', np.dtype(np.float64): 'DoubleStorage',
                  np.dtype(np.int64): 'LongStorage'}


def _pickle_str(text):
    data = text.encode('utf-8')
    return b'X' + struct.pack('<I', len(data)) + data  # BINUNICODE


def _pickle_int_tuple(values):
    return b'(' + b''.join(b'J' + struct.pack('<i', int(v)) for v in values) + b't'  # MARK, BININT..., TUPLE


def _pickle_tensor(key, array):
    """``torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`` as pickle opcodes."""
    strides = [int(np.prod(array.shape[i + 1:])) for i in range(array.ndim)]
    storage = (b'(' + _pickle_str('storage') + b'ctorch\n' + TORCH_STORAGES[array.dtype].encode() + b'\n'
               + _pickle_str(key) + _pickle_str('cpu') + b'J' + struct.pack('<i', array.size) + b'tQ')  # BINPERSID
    return (b'ctorch._utils\n_rebuild_tensor_v2\n(' + storage + b'J\x00\x00\x00\x00'
            + _pickle_int_tuple(array.shape) + _pickle_int_tuple(strides) + b'\x89'  # NEWFALSE
            + b'ccollections\nOrderedDict\n)R' + b'tR')


def write_official_pth(path, state_dict):
    """Write ``{'model': OrderedDict(state_dict)}`` (name -> numpy array) in torch.save's zip layout.

    The container of the official checkpoints, with the pickle written opcode by
    opcode here, independently of the project's own writer
    (``dformer_seg/deploy/torch_format.py``): each tensor a
    ``torch._utils._rebuild_tensor_v2`` call on a persistent-id storage whose
    bytes are the record ``archive/data/<n>``.
    """
    arrays = [np.asarray(value).astype(np.asarray(value).dtype.newbyteorder('<')) for value in state_dict.values()]
    items = b''.join(_pickle_str(name) + _pickle_tensor(str(index), array)
                     for index, (name, array) in enumerate(zip(state_dict, arrays)))
    data_pkl = (b'\x80\x02}' + _pickle_str('model') + b'ccollections\nOrderedDict\n)R(' + items + b'u' + b's.')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        archive.writestr('archive/data.pkl', data_pkl)
        archive.writestr('archive/byteorder', 'little')
        for index, array in enumerate(arrays):
            archive.writestr(f'archive/data/{index}', array.tobytes())  # C order
        archive.writestr('archive/version', '3\n')
    return path
