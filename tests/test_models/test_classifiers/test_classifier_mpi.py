"""The RGB-D classifier under ``mpirun -np 2`` against one process with the same global batch."""
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'classifier_mpi_worker.py')
ENV = dict(os.environ, OMP_NUM_THREADS='1')

pytestmark = pytest.mark.skipif(shutil.which('mpirun') is None, reason='OpenMPI (mpirun) is not installed')


def run(command, timeout=1500):
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f'{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'


def train_losses(work_dir):
    (log_json,) = glob.glob(os.path.join(work_dir, '*.log.json'))
    return [r['loss'] for r in map(json.loads, open(log_json)) if r['mode'] == 'train']


def test_two_processes_train_and_evaluate_like_one(tmp_path):
    single, multi = str(tmp_path / 'single'), str(tmp_path / 'multi')
    run([sys.executable, WORKER, single])
    mpirun = ['mpirun', '-np', '2', '-x', 'OMP_NUM_THREADS']
    if os.geteuid() == 0:
        mpirun.insert(1, '--allow-run-as-root')
    run(mpirun + [sys.executable, WORKER, multi])

    single_losses, multi_losses = train_losses(single), train_losses(multi)
    assert len(single_losses) == len(multi_losses) == 4
    np.testing.assert_allclose(multi_losses, single_losses, rtol=1e-4)
    rank0, rank1 = np.load(f'{multi}/weights_rank0.npz'), np.load(f'{multi}/weights_rank1.npz')
    reference = np.load(f'{single}/weights_rank0.npz')
    for key in reference.files:
        np.testing.assert_array_equal(rank0[key], rank1[key])
        np.testing.assert_allclose(rank0[key], reference[key], rtol=1e-3, atol=1e-5)

    # Evaluation is sharded (4 + 3 samples, the padding repeat left out) and the counts summed.
    evals = [json.load(open(f'{multi}/eval_rank{r}.json')) for r in (0, 1)]
    assert sorted(e['local_samples'] for e in evals) == [3, 4]
    reference_metrics = json.load(open(f'{single}/eval_rank0.json'))['metrics']
    for e in evals:
        assert e['metrics'] == pytest.approx(reference_metrics, abs=1e-6)
