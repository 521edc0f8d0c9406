"""Under MPI: WorstImagesHook ranks the images of all processes; only rank 0 writes TensorBoard files."""
import os
import shutil
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'mpi_observability_worker.py')

pytestmark = pytest.mark.skipif(shutil.which('mpirun') is None, reason='OpenMPI (mpirun) is not installed')


def test_worst_images_ranked_over_processes_and_one_tensorboard_writer(tmp_path):
    mpirun = ['mpirun', '-np', '2', '-x', 'OMP_NUM_THREADS']
    if os.geteuid() == 0:
        mpirun.insert(1, '--allow-run-as-root')
    result = subprocess.run(mpirun + [sys.executable, WORKER, str(tmp_path)], capture_output=True, text=True,
                            timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / 'worst')) == ['00_r1_img_2.png', '01_r0_img_1.png']
    assert len(os.listdir(tmp_path / 'tf_logs')) == 1  # one event file: rank 0's
