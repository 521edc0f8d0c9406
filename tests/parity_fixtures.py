"""Access to the reference-output fixtures of the official PyTorch DFormer code.

The weights of the fixtures are regenerated here from the documented rule
(``tests/fixtures/parity/README.md``, "Weight rule"), so the repository does
not carry them. The full DFormer-Tiny fixture is read from ``../shared`` when
that folder exists beside the checkout.
"""
import json
import os

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL_DIR = os.path.join(HERE, 'fixtures', 'parity')
SHARED_DIR = os.path.join(HERE, '..', '..', 'shared', 'fixtures', 'parity')


def fixture_dir(name):
    for root in (LOCAL_DIR, SHARED_DIR):
        path = os.path.join(root, name)
        if os.path.isfile(os.path.join(path, 'keys.tsv')):
            return path
    pytest.skip(f'parity fixture {name} not found (looked in {LOCAL_DIR} and {SHARED_DIR})')


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
