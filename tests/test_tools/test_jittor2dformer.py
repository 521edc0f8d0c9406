"""tools/model_converters/jittor2dformer.py: the official checkpoint layout, written without torch."""
import os
import zipfile

import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.utils.checkpoint import load_torch_checkpoint, read_checkpoint, save_checkpoint
from script_loading import REPO, load_script

KEYS_DIR = os.path.join(REPO, 'tests', 'fixtures', 'checkpoint-keys')


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
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names[:2] == ['archive/data.pkl', 'archive/byteorder'] and names[-1] == 'archive/version'
        for info in archive.infolist():  # records are stored, their data 64-byte aligned like torch's
            data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
            assert info.compress_type == zipfile.ZIP_STORED and data_start % 64 == 0, info.filename


def test_dformerv2_keys_are_the_official_ones(converter):
    model = init_model(os.path.join(REPO, 'configs', 'dformerv2', 'dformerv2_s_nyu.py'), device='cpu')
    state = converter.to_official_state_dict({k: np.zeros(v.shape, np.float32) for k, v in
                                              model.state_dict().items()})
    assert [(k, tuple(v.shape)) for k, v in state.items()] == [(k, s) for k, s, _ in official_keys('DFormerv2_S.tsv')]


def test_torch_loads_it_with_weights_only(converter, tmp_path):
    torch = pytest.importorskip('torch')
    weights = dict(a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array(3, dtype=np.int64))
    weights['bn.running_mean'] = np.zeros(2, np.float32)
    weights['bn.running_var'] = np.ones(2, np.float32)
    save_checkpoint(str(tmp_path / 'w.pkl'), weights)
    assert converter.main([str(tmp_path / 'w.pkl'), str(tmp_path / 'w.pth')]) == 0
    loaded = torch.load(str(tmp_path / 'w.pth'), weights_only=True)['model']
    assert list(loaded) == ['a', 'b', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']
    for key, value in weights.items():
        assert np.array_equal(loaded[key].numpy(), value) and loaded[key].numpy().dtype == value.dtype
    assert loaded['bn.num_batches_tracked'].dtype == torch.int64 and loaded['bn.num_batches_tracked'].item() == 0


def test_bad_input(converter, tmp_path, capsys):
    assert converter.main([str(tmp_path / 'missing.pkl'), str(tmp_path / 'out.pth')]) == 1
    save_checkpoint(str(tmp_path / 'small.pkl'), dict(w=np.zeros(2, np.float32)))
    config = os.path.join(REPO, 'configs', 'dformer', 'dformer_tiny_nyu.py')
    assert converter.main([str(tmp_path / 'small.pkl'), str(tmp_path / 'out.pth'), '--config', config]) == 1
    err = capsys.readouterr().err
    assert 'missing.pkl' in err and 'does not match' in err
    assert not (tmp_path / 'out.pth').exists()
