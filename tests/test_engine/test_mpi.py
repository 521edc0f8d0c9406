"""Two-process data-parallel training under MPI against one process with the same global batch."""
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


def train_losses(work_dir):
    (log_json,) = glob.glob(os.path.join(work_dir, '*.log.json'))
    records = [json.loads(line) for line in open(log_json)]
    return [r['loss'] for r in records if r['mode'] == 'train'], [r for r in records if r['mode'] == 'val']


def test_two_processes_follow_one_process_and_stay_in_step(tmp_path):
    single, multi = str(tmp_path / 'single'), str(tmp_path / 'multi')
    run([sys.executable, WORKER, single])
    mpirun = ['mpirun', '-np', '2', '-x', 'OMP_NUM_THREADS']
    if os.geteuid() == 0:
        mpirun.insert(1, '--allow-run-as-root')
    run(mpirun + [sys.executable, WORKER, multi])

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
