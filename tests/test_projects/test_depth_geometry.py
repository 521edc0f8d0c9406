"""The example project projects/depth_geometry: transform, backbone, hook, and training it
through tools/train.py (then segmenting with tools/infer.py) from its own config."""
import glob
import os
import subprocess
import sys
from types import SimpleNamespace

import cv2
import jittor as jt
import numpy as np
import pytest

from dformer_seg.datasets.demo import generate_demo_dataset
from dformer_seg.models.backbones import DFormer
from dformer_seg.registry import BACKBONES, HOOKS, PIPELINES
from projects.depth_geometry import DepthToGeometry, GeometryDFormer, GeometryMixLoggerHook

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(REPO, 'projects', 'depth_geometry', 'configs', 'dformer_tiny_geometry_demo.py')
MINI_DFORMER = dict(dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                    windows=[0, 7, 7, 7])


def encoded(slope, strength=1.0):
    """The expected encoding of a slope of ``slope`` depth units per pixel along one axis."""
    return (-slope / np.sqrt(slope ** 2 + 1.0 / strength ** 2) + 1.0) * 127.5


def ramp_x(slope, h=16, w=24):
    return (40.0 + slope * np.arange(w, dtype=np.float32))[None, :].repeat(h, 0)


def test_registered_by_name():
    assert PIPELINES.get('DepthToGeometry') is DepthToGeometry
    assert BACKBONES.get('GeometryDFormer') is GeometryDFormer
    assert HOOKS.get('GeometryMixLoggerHook') is GeometryMixLoggerHook


def test_flat_and_sloped_depth():
    flat = DepthToGeometry()(dict(depth=np.full((8, 10, 1), 90, np.uint8)))
    assert flat['depth'].shape == (8, 10, 3) and flat['depth'].dtype == np.float32
    assert flat['depth_channels'] == 3
    np.testing.assert_array_equal(flat['depth'][..., 0], 90)
    np.testing.assert_allclose(flat['depth'][..., 1:], 127.5)

    out = DepthToGeometry(strength=2.0, blur=0)(dict(depth=ramp_x(0.5)[:, :, None]))['depth']
    inner = out[1:-1, 1:-1]
    np.testing.assert_allclose(inner[..., 1], encoded(0.5, strength=2.0), atol=1e-3)
    np.testing.assert_allclose(inner[..., 2], 127.5, atol=1e-3)
    # A ramp along y shows up in the other channel.
    along_y = DepthToGeometry(blur=0)(dict(depth=ramp_x(0.5, 24, 16).T.copy()))['depth']
    np.testing.assert_allclose(along_y[1:-1, 1:-1, 2], encoded(0.5), atol=1e-3)


def test_flip_and_scale_are_accounted_for():
    transform = DepthToGeometry(blur=0)
    ramp = ramp_x(0.8)
    flipped = transform(dict(depth=ramp[:, ::-1].copy()))['depth'][1:-1, 1:-1, 1]
    np.testing.assert_allclose(flipped, 255.0 - encoded(0.8), atol=1e-3)
    # Twice the resolution halves the slope per pixel; scale_factor=2 measures it per original pixel.
    upscaled = cv2.resize(ramp, (ramp.shape[1] * 2, ramp.shape[0] * 2), interpolation=cv2.INTER_LINEAR)
    measured = transform(dict(depth=upscaled, scale_factor=2.0))['depth'][4:-4, 4:-4, 1]
    np.testing.assert_allclose(measured, encoded(0.8), atol=1e-2)


def test_transform_errors():
    with pytest.raises(KeyError, match='after LoadDepthFromFile'):
        DepthToGeometry()(dict(img=np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match='single-channel depth'):
        DepthToGeometry()(dict(depth=np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match='before Normalize'):
        DepthToGeometry()(dict(depth=np.full((4, 4, 1), -1.5, np.float32)))
    with pytest.raises(ValueError, match='strength'):
        DepthToGeometry(strength=0)
    with pytest.raises(ValueError, match='odd kernel size'):
        DepthToGeometry(blur=4)


def test_backbone_starts_as_dformer_on_the_depth_channel():
    geometry = GeometryDFormer(geometry_channels=3, **MINI_DFORMER)
    plain = DFormer(**MINI_DFORMER)
    weights = geometry.state_dict()
    assert set(weights) == set(plain.state_dict()) | {'geometry_mix.weight'}
    plain.load_state_dict({k: v for k, v in weights.items() if not k.startswith('geometry_mix.')})
    geometry.eval()
    plain.eval()
    rng = np.random.default_rng(0)
    img = jt.array(rng.normal(size=(1, 3, 32, 32)).astype(np.float32))
    depth = jt.array(rng.normal(size=(1, 3, 32, 32)).astype(np.float32))
    np.testing.assert_array_equal(geometry.mix_weights(), [1.0, 0.0, 0.0])
    for ours, reference in zip(geometry(img, depth), plain(img, depth[:, :1])):
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\), got \(1, 1, 32, 32\); add DepthToGeometry'):
        geometry(img, depth[:, :1])


def test_hook_logs_the_mix_at_its_interval():
    messages = []
    backbone = SimpleNamespace(geometry_channels=3, mix_weights=lambda: np.array([0.9, 0.2, -0.1], np.float32))
    runner = SimpleNamespace(model=SimpleNamespace(backbone=backbone), iter=0, max_iters=5,
                             logger=SimpleNamespace(info=messages.append))
    hook = GeometryMixLoggerHook(interval=2)
    hook.before_train(runner)
    for it in range(1, 6):
        runner.iter = it
        hook.after_train_iter(runner, it - 1)
    assert [it for it, _ in hook.history] == [2, 4, 5]  # every 2 iterations, and the last
    np.testing.assert_allclose(hook.history[0][1], [0.9, 0.2, -0.1], rtol=1e-6)
    assert messages[0] == 'geometry mix at iteration 2: depth +0.9000, slope_x +0.2000, slope_y -0.1000'

    with pytest.raises(TypeError, match='needs a GeometryDFormer backbone, got DFormer'):
        hook.before_train(SimpleNamespace(model=SimpleNamespace(backbone=DFormer(**MINI_DFORMER))))
    with pytest.raises(ValueError, match='2 channel_names for a mix of 3'):
        GeometryMixLoggerHook(channel_names=('a', 'b')).before_train(runner)
    with pytest.raises(ValueError, match='interval'):
        GeometryMixLoggerHook(interval=0)


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=1500,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    return result.returncode, result.stdout + result.stderr


def test_trains_through_tools_train_and_segments_through_tools_infer(tmp_path):
    data = str(tmp_path / 'demo_rgbd')
    generate_demo_dataset(data, seed=0, num_train=4, num_test=2, size=(96, 128))
    work_dir = str(tmp_path / 'work')
    options = [f'{loader}_dataloader.dataset.data_root={data}' for loader in ('train', 'val', 'test')]
    options += [f'{loader}_dataloader.num_workers=0' for loader in ('train', 'val', 'test')]
    # A smaller model and one epoch of two iterations keep this to seconds (after compilation).
    options += ['model.backbone.depths=[1,1,1,1]', 'model.decode_head.channels=32',
                'model.decode_head.ham_channels=32', 'train_dataloader.batch_size=2', 'train_loop.max_epochs=1',
                'train_loop.val_interval=1', 'default_hooks.checkpoint.interval=1', 'custom_hooks.0.interval=1']
    code, log = run_tool('tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options', *options)
    assert code == 0, log[-4000:]
    assert 'GeometryMixLoggerHook' in log
    assert 'geometry mix at iteration 1: depth +1.0000, slope_x +0.0000' in log
    assert 'geometry mix at iteration 2:' in log and 'Epoch(val) [1]' in log
    checkpoint = os.path.join(work_dir, 'epoch_1.pkl')
    assert os.path.exists(checkpoint)

    out = str(tmp_path / 'pred')
    code, log = run_tool('tools/infer.py', CONFIG, checkpoint, '--rgb', os.path.join(data, 'RGB'),
                         '--depth', os.path.join(data, 'Depth'), '--out', out, '--overlay',
                         '--cfg-options', *options[6:9])
    assert code == 0, log[-4000:]
    labels = sorted(glob.glob(os.path.join(out, 'labels', '*.png')))
    assert len(labels) == 6 and len(glob.glob(os.path.join(out, 'overlays', '*.png'))) == 6
    label = cv2.imread(labels[0], cv2.IMREAD_UNCHANGED)
    assert label.shape == (96, 128) and label.max() < 6
