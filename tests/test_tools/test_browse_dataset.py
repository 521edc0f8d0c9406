import os
import subprocess
import sys

import cv2
import numpy as np

from dformer_seg.datasets import generate_demo_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'misc', 'browse_dataset.py')
CONFIG = os.path.join(REPO, 'configs', '_base_', 'datasets', 'demo_rgbd.py')


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, CONFIG, *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO)


def test_browse_writes_rgb_depth_label_panels(tmp_path):
    data = str(tmp_path / 'demo')
    generate_demo_dataset(data, seed=0, num_train=3, num_test=2, size=(120, 160))
    out = str(tmp_path / 'browse')
    result = run_tool('--num', '2', '--output-dir', out, '--cfg-options',
                      f'train_dataloader.dataset.data_root={data}')
    assert result.returncode == 0, result.stderr
    names = sorted(os.listdir(out))
    assert names == ['0000_train_00000.png', '0001_train_00001.png']
    panels = cv2.imread(os.path.join(out, names[0]))
    assert panels.shape == (96, 3 * 128, 3)  # the demo training crop, three panels side by side
    rgb, depth, overlay = panels[:, :128], panels[:, 128:256], panels[:, 256:]
    assert rgb.std() > 5 and depth.std() > 5
    labelled = overlay.any(axis=2)
    assert labelled.mean() > 0.5  # most pixels carry a class colour; void/padding is black
    assert not np.array_equal(overlay[labelled], rgb[labelled])

    evaluation = run_tool('--split', 'val', '--num', '1', '--output-dir', out, '--cfg-options',
                          f'val_dataloader.dataset.data_root={data}')
    assert evaluation.returncode == 0, evaluation.stderr
    assert cv2.imread(os.path.join(out, '0000_test_00003.png')).shape == (120, 3 * 160, 3)


def test_browse_reports_a_wrong_root(tmp_path):
    result = run_tool('--output-dir', str(tmp_path), '--cfg-options',
                      f'train_dataloader.dataset.data_root={tmp_path / "missing"}')
    assert result.returncode != 0 and 'not a folder' in result.stderr and 'Traceback' not in result.stderr
