"""Two-process data-parallel training under MPI against one process with the same global batch.

With SyncBN the two processes' batch statistics are those of the whole batch, so 2 processes x batch 2
train exactly like 1 process x batch 4 (loss, weights and BatchNorm running statistics, to float
rounding); with plain BN each process normalises its half batch and the run differs, which shows that
the comparison can tell the two apart."""
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'mpi_worker.py')
ENV = dict(os.environ, OMP_NUM_THREADS='1')

pytestmark = pytest.mark.skipif(shutil.which('mpirun') is None, reason='OpenMPI (mpirun) is not installed')


def run(command, timeout=900):
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f'{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'


def mpirun(processes):
    command = ['mpirun', '-np', str(processes), '-x', 'OMP_NUM_THREADS']
    if os.geteuid() == 0:
        command.insert(1, '--allow-run-as-root')
    return command


def train_losses(work_dir):
    (log_json,) = glob.glob(os.path.join(work_dir, '*.log.json'))
    records = [json.loads(line) for line in open(log_json)]
    return [r['loss'] for r in records if r['mode'] == 'train'], [r for r in records if r['mode'] == 'val']


def test_two_processes_follow_one_process_and_stay_in_step(tmp_path):
    single, multi = str(tmp_path / 'single'), str(tmp_path / 'multi')
    run([sys.executable, WORKER, single])
    run(mpirun(2) + [sys.executable, WORKER, multi])

    # The same loss curve: the mean of the two half-batch gradients is the full-batch gradient.
    single_losses, single_val = train_losses(single)
    multi_losses, multi_val = train_losses(multi)
    assert len(single_losses) == len(multi_losses) == 8
    assert single_losses[-1] < single_losses[0]
    np.testing.assert_allclose(multi_losses, single_losses, rtol=1e-4)

    # Both ranks hold identical weights, equal to the single-process ones.
    rank0, rank1 = np.load(f'{multi}/weights_rank0.npz'), np.load(f'{multi}/weights_rank1.npz')
    reference = np.load(f'{single}/weights_rank0.npz')
    for key in reference.files:
        np.testing.assert_array_equal(rank0[key], rank1[key])
        np.testing.assert_allclose(rank0[key], reference[key], rtol=1e-4, atol=1e-6)

    # Validation was sharded (4 + 4 samples, one of them a padding repeat) and summed: 7 samples, same mIoU.
    evals = [json.load(open(f'{multi}/eval_rank{r}.json')) for r in (0, 1)]
    assert [e['local_samples'] for e in evals] == [4, 3]
    assert all(e['total_samples'] == 7 for e in evals)
    assert multi_val[0]['mIoU'] == pytest.approx(single_val[0]['mIoU'], abs=1e-3)

    # Only rank 0 writes logs and checkpoints.
    assert len(glob.glob(f'{multi}/*.log')) == 1 and len(glob.glob(f'{multi}/*.log.json')) == 1
    assert os.path.exists(f'{multi}/iter_8.pkl')


def test_syncbn_two_processes_train_like_one_process_with_the_whole_batch(tmp_path):
    single, synced, unsynced = (str(tmp_path / name) for name in ('single', 'syncbn', 'bn'))
    run([sys.executable, WORKER, single, 'SyncBN'])
    run(mpirun(2) + [sys.executable, WORKER, synced, 'SyncBN'])
    run(mpirun(2) + [sys.executable, WORKER, unsynced, 'BN'])
    # SyncBN is plain BN in one process, synchronised BN under MPI; BN is never synchronised.
    assert json.load(open(f'{single}/eval_rank0.json'))['synchronised_norms'] == [False, False]
    for r in (0, 1):
        assert json.load(open(f'{synced}/eval_rank{r}.json'))['synchronised_norms'] == [True, True]
        assert json.load(open(f'{unsynced}/eval_rank{r}.json'))['synchronised_norms'] == [False, False]

    single_losses, synced_losses = train_losses(single)[0], train_losses(synced)[0]
    assert len(single_losses) == len(synced_losses) == 8 and single_losses[-1] < single_losses[0]
    np.testing.assert_allclose(synced_losses, single_losses, rtol=1e-5)
    reference = np.load(f'{single}/weights_rank0.npz')
    rank0, rank1 = np.load(f'{synced}/weights_rank0.npz'), np.load(f'{synced}/weights_rank1.npz')
    assert any('running_var' in key for key in reference.files)
    for key in reference.files:  # weights and the BatchNorm running statistics
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
        np.testing.assert_allclose(rank0[key], reference[key], rtol=1e-4, atol=1e-6, err_msg=key)

    # Each process normalising its own half batch gives another loss curve, far outside that tolerance.
    unsynced_losses = np.array(train_losses(unsynced)[0])
    assert np.abs(unsynced_losses / np.array(single_losses) - 1).max() > 1e-3
