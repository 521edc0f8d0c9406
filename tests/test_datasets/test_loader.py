"""The Jittor data loader: batches, workers, epochs, per-process shards, errors."""
import json
import os
import shutil
import subprocess
import sys

import jittor as jt  # (the runtime is set up in conftest.py)
import numpy as np
import pytest

from dformer_seg.datasets import DataError, build_dataloader

from rgbd_samples import make_sample_arrays, write_sample, write_split

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUFFER = 8 * 1024 * 1024
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthFromFile', channels=1),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.75, 1.0, 1.5]),
    dict(type='RandomCrop', crop_size=(16, 24)),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
         depth_mean=[122.4], depth_std=[71.4]),
    dict(type='Pad', size=(16, 24)),
    dict(type='PackSegInputs'),
]


@pytest.fixture
def ten_samples(tmp_path):
    root = str(tmp_path / 'set')
    for i in range(10):
        write_sample(root, f'{i}', *make_sample_arrays(i))
    write_split(root, 'train', [f'RGB/{i}.jpg Label/{i}.png' for i in range(10)])
    return root


def loader_cfg(root, **kwargs):
    dataset = dict(type='RGBDSegDataset', data_root=root, split='train', classes=['a', 'b', 'c', 'd'],
                   reduce_zero_label=True, pipeline=PIPELINE)
    return dict(dict(batch_size=4, num_workers=0, shuffle=True, drop_last=True, buffer_size=BUFFER,
                     dataset=dataset), **kwargs)


def sample_ids(batch):
    return [m['sample_idx'] for m in batch['img_metas']]


def test_batches_and_metadata(ten_samples):
    loader = build_dataloader(loader_cfg(ten_samples), seed=0)
    batches = list(loader)
    assert len(loader) == len(batches) == 2  # 10 samples, 4 per batch, drop_last
    batch = batches[0]
    assert set(batch) == {'img', 'depth', 'gt_seg', 'img_metas'}
    assert isinstance(batch['img'], jt.Var) and batch['img'].shape == [4, 3, 16, 24]
    assert batch['img'].dtype == 'float32' and batch['depth'].shape == [4, 1, 16, 24]
    assert batch['gt_seg'].dtype == 'int32' and batch['gt_seg'].shape == [4, 16, 24]
    meta = batch['img_metas'][0]
    assert meta['ori_shape'] == (24, 32) and isinstance(meta['flip'], bool)
    assert meta['img_path'] == os.path.join(ten_samples, 'RGB', f'{meta["sample_idx"]}.jpg')
    assert loader.metainfo['classes'] == ('a', 'b', 'c', 'd')
    assert len(list(build_dataloader(loader_cfg(ten_samples, drop_last=False), seed=0))) == 3


def test_workers_give_the_same_batches_and_epochs_differ(ten_samples):
    in_process = build_dataloader(loader_cfg(ten_samples), seed=3)
    workers = build_dataloader(loader_cfg(ten_samples, num_workers=2), seed=3)
    epochs = []
    for _ in range(2):
        a, b = list(in_process), list(workers)
        assert [sample_ids(x) for x in a] == [sample_ids(x) for x in b]
        for x, y in zip(a, b):  # same augmentation of each sample, whichever process loaded it
            np.testing.assert_array_equal(x['img'].numpy(), y['img'].numpy())
            np.testing.assert_array_equal(x['gt_seg'].numpy(), y['gt_seg'].numpy())
            assert x['img_metas'] == y['img_metas']
        epochs.append([sample_ids(x) for x in a])
    assert epochs[0] != epochs[1]  # reshuffled each epoch
    for loader in (in_process, workers):
        next(iter(loader))  # an abandoned epoch (its prefetched batches must not leak)
        loader.set_epoch(1)
        assert [sample_ids(x) for x in loader] == epochs[1]  # set_epoch replays an epoch (resume)
    workers.terminate()


def test_batches_that_workers_deliver_out_of_order_are_put_back_in_order(ten_samples):
    # Jittor's workers register for a batch and for the delivery queue in two steps, so two
    # workers can swap batches. The loader reorders by the samples' (encoded) indices.
    loader = build_dataloader(loader_cfg(ten_samples, shuffle=False, drop_last=False), seed=0)
    in_order = []
    for batch in loader:
        in_order.append(sample_ids(batch))
    encoded = loader._encode(loader.indices(0), 0)
    fake = [{'__encoded_index__': [int(v) for v in encoded[start:start + 4]], 'n': start // 4}
            for start in (4, 8, 0)]
    loader._epoch = 0
    assert [b['n'] for b in loader._run_epoch(iter(fake))] == [0, 1, 2]
    assert in_order == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_processes_get_disjoint_shards_of_per_process_batches(ten_samples):
    cfg = loader_cfg(ten_samples, batch_size=2)
    loaders = [build_dataloader(cfg, seed=5, rank=r, world_size=2) for r in range(2)]
    assert [len(loader) for loader in loaders] == [2, 2]  # 10 // (2 * 2)
    seen = [[i for batch in loader for i in sample_ids(batch)] for loader in loaders]
    assert all(len(s) == 4 for s in seen) and not set(seen[0]) & set(seen[1])
    evaluation = loader_cfg(ten_samples, batch_size=2, shuffle=False, drop_last=False)
    eval_loaders = [build_dataloader(evaluation, seed=5, rank=r, world_size=3) for r in range(3)]
    kept = []
    for loader in eval_loaders:
        ids = [i for batch in loader for i in sample_ids(batch)]
        assert len(ids) == 4
        kept += [i for k, i in enumerate(ids) if k not in loader.duplicate_positions()]
    assert sorted(kept) == list(range(10))


def test_loader_config_errors(ten_samples):
    with pytest.raises(KeyError, match='unknown data loader option'):
        build_dataloader(dict(loader_cfg(ten_samples), sampler=dict(type='DefaultSampler')))
    with pytest.raises(DataError, match='fewer than one batch'):
        build_dataloader(loader_cfg(ten_samples, batch_size=4), seed=0, rank=0, world_size=3)
    with pytest.raises(ValueError, match='batch_size'):
        build_dataloader(loader_cfg(ten_samples, batch_size=0))


@pytest.mark.parametrize('num_workers', [0, 2])
def test_bad_file_stops_with_its_name(ten_samples, num_workers):
    with open(os.path.join(ten_samples, 'Depth', '7.png'), 'wb') as f:
        f.write(b'garbage')
    loader = build_dataloader(loader_cfg(ten_samples, num_workers=num_workers, shuffle=False), seed=0)
    with pytest.raises(DataError) as info:
        for _ in loader:
            pass
    assert 'cannot decode depth file' in str(info.value) and '7.png' in str(info.value)
    assert 'train.txt, line 8' in str(info.value)
    loader.terminate()


MPI_SCRIPT = '''
import json
import sys
sys.path.insert(0, {repo!r})
from dformer_seg import runtime
runtime.setup()
import jittor as jt
from dformer_seg.datasets import build_dataloader
pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
            dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
dataset = dict(type='RGBDSegDataset', data_root={root!r}, split='train', classes=['a', 'b', 'c', 'd'],
               reduce_zero_label=True, pipeline=pipeline)
loader = build_dataloader(dict(batch_size=2, num_workers=1, shuffle=True, drop_last=True, dataset=dataset))
ids = [[m['sample_idx'] for m in batch['img_metas']] for batch in loader]
print('RESULT', json.dumps([jt.rank, jt.world_size, loader.seed, len(loader), ids]), flush=True)
'''


@pytest.mark.skipif(shutil.which('mpirun') is None, reason='mpirun (OpenMPI) is not installed')
def test_two_mpi_processes_share_the_seed_and_split_the_data(ten_samples, tmp_path):
    script = tmp_path / 'mpi_loader.py'
    script.write_text(MPI_SCRIPT.format(repo=REPO, root=ten_samples))
    env = dict(os.environ, OMP_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
    result = subprocess.run(['mpirun', '-np', '2', sys.executable, str(script)], capture_output=True, text=True,
                            timeout=600, env=env)
    ranks = sorted(json.loads(line.split(' ', 1)[1]) for line in result.stdout.splitlines()
                   if line.startswith('RESULT '))  # [rank, world_size, seed, batches, sample ids]
    assert len(ranks) == 2, result.stdout + result.stderr
    assert [r[:2] for r in ranks] == [[0, 2], [1, 2]] and ranks[0][2] == ranks[1][2]  # one shared seed
    assert ranks[0][3] == ranks[1][3] == 2  # 10 samples, 2 per process per step, drop_last
    seen = [sum(r[4], []) for r in ranks]
    assert all(len(s) == 4 for s in seen) and not set(seen[0]) & set(seen[1])


def test_the_jittor_adapter_refuses_an_untested_jittor_version():
    from dformer_seg.utils.jittor_internals import check_jittor_version
    check_jittor_version()  # the installed one
    with pytest.raises(RuntimeError, match=r'knows for Jittor 1\.3\.x; this is Jittor 1\.4\.0'):
        check_jittor_version('1.4.0')
