"""End to end from the command line on a tiny demo set: train -> checkpoint -> resume -> test."""
import glob
import json
import os
import shutil
import subprocess
import sys

import cv2
import pytest

from dformer_seg.datasets.demo import generate_demo_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, 'configs', 'demo', 'dformer_tiny_demo.py')
NUM_TEST = 3


def small_model_and_data(data_root):
    """--cfg-options that shrink the demo recipe to seconds: 1 block per stage, 4 training images."""
    return [f'train_dataloader.dataset.data_root={data_root}', f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}',
            'model.backbone.depths=[1,1,1,1]', 'model.decode_head.channels=32', 'model.decode_head.ham_channels=32',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
            'test_dataloader.num_workers=0', 'default_hooks.logger.interval=1',
            'default_hooks.checkpoint.interval=1', 'train_loop.val_interval=1']


def bf16_available():
    from dformer_seg.ops.precision import precision_unavailable_reason
    return precision_unavailable_reason('bf16') is None


def run_tool(*args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=1500)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo') / 'demo_rgbd')
    generate_demo_dataset(root, seed=0, num_train=4, num_test=NUM_TEST, size=(96, 128))
    return root


def test_train_resume_test_from_the_command_line(data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    options = small_model_and_data(data_root)
    train = ['tools/train.py', CONFIG, '--work-dir', work_dir, '--seed', '0', '--cfg-options', *options]

    code, log = run_tool(*train, 'train_loop.max_epochs=2')
    assert code == 0, log[-4000:]
    assert 'Epoch [2][2/2]' in log and 'Epoch(val) [2]' in log and '| ceiling' in log
    assert os.path.exists(f'{work_dir}/epoch_2.pkl') and glob.glob(f'{work_dir}/best_mIoU_epoch_*.pkl')
    assert os.path.exists(f'{work_dir}/dformer_tiny_demo.py')  # the config actually used

    code, log = run_tool(*train, 'train_loop.max_epochs=3')
    assert code != 0 and 'already holds the checkpoints' in log  # no silent overwrite

    code, log = run_tool(*train, 'train_loop.max_epochs=3', '--resume')
    assert code == 0, log[-4000:]
    assert 'resumed from' in log and 'epoch 2, iteration 4' in log
    assert 'Epoch [1]' not in log and 'Epoch [3][2/2]' in log
    assert os.path.exists(f'{work_dir}/epoch_3.pkl')

    out_dir, show_dir = str(tmp_path / 'pred'), str(tmp_path / 'show')
    code, log = run_tool('tools/test.py', CONFIG, f'{work_dir}/epoch_3.pkl', '--work-dir', work_dir, '--tta',
                         '--out', out_dir, '--show-dir', show_dir, '--cfg-options', *options)
    assert code == 0, log[-4000:]
    assert '| Class' in log and 'Test  aAcc:' in log and 'mIoU:' in log
    labels = sorted(glob.glob(f'{out_dir}/*.png'))
    assert len(labels) == NUM_TEST and len(glob.glob(f'{show_dir}/*.png')) == NUM_TEST
    label = cv2.imread(labels[0], cv2.IMREAD_UNCHANGED)
    assert label.shape == (96, 128) and label.max() < 6

    if bf16_available():
        code, log = run_tool('tools/test.py', CONFIG, f'{work_dir}/epoch_3.pkl', '--work-dir', work_dir,
                             '--precision', 'bf16', '--cfg-options', *options)
        assert code == 0, log[-4000:]
        assert 'bf16 against fp32 on the same data' in log and 'mIoU: bf16 ' in log and ', fp32 ' in log

    results = str(tmp_path / 'results.json')
    code, log = run_tool('tools/test.py', CONFIG, f'{work_dir}/epoch_3.pkl', '--work-dir', work_dir,
                         '--format-only', '--out', results, '--cfg-options', *options)
    assert code == 0, log[-4000:]
    records = json.load(open(results))
    assert len({r['image_id'] for r in records}) == NUM_TEST
    assert {'image_id', 'category_id', 'category_name', 'segmentation'} <= set(records[0])


@pytest.mark.skipif(shutil.which('mpirun') is None, reason='OpenMPI (mpirun) is not installed')
def test_dist_train_script_runs_two_processes(data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', work_dir, '--seed', '0', '--cfg-options',
         *small_model_and_data(data_root), 'train_dataloader.batch_size=1', 'val_dataloader.batch_size=1',
         'train_loop.max_epochs=1'],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    # 4 images, 1 per process per step: 2 steps; 3 test images split 2 + 1 (+ 1 padding repeat, not counted).
    assert '2 process(es)' in log and 'Epoch [1][2/2]' in log and 'per-class results (3 images)' in log
    assert len(glob.glob(f'{work_dir}/*.log')) == 1 and os.path.exists(f'{work_dir}/epoch_1.pkl')
