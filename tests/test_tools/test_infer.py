import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from dformer_seg.apis import enable_tta, inference_model, init_model
from dformer_seg.utils.checkpoint import save_checkpoint

from script_loading import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'infer.py')
H, W = 40, 56
CONFIG_TEXT = """
_img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])
test_dataloader = dict(batch_size=1, dataset=dict(
    type='DemoRGBDDataset', data_root='unused',
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
              dict(type='Normalize', **_img_norm), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
model = dict(
    type='RGBDEncoderDecoder',
    backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
    decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                     ham_channels=32, num_classes=6, nmf_seed=0, norm_cfg=dict(type='BN', eps=1e-3)),
    test_cfg=dict(mode='whole'))
tta_cfg = dict(scales=[0.75, 1.0], flip=True)
device = 'cpu'
"""


def load_tool_module():
    return load_script(TOOL, 'infer_tool')  # infer.py imports tools/train.py


def write_image(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, image), path


def random_pair(seed, h=H, w=W):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w), dtype=np.uint8)


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=600, cwd=REPO,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A config file and a checkpoint of the mini model (with non-trivial head weights)."""
    folder = tmp_path_factory.mktemp('model')
    config = str(folder / 'mini.py')
    with open(config, 'w') as f:
        f.write(CONFIG_TEXT)
    model = init_model(config, device='cpu')
    rng = np.random.default_rng(0)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    weights['decode_head.conv_seg.bias'] = rng.normal(0, 0.5, weights['decode_head.conv_seg.bias'].shape).astype(
        np.float32)
    checkpoint = str(folder / 'mini.pkl')
    save_checkpoint(checkpoint, weights, meta=dict(CLASSES=['w', 'f', 'c', 'bx', 'bl', 'cy']))
    return config, checkpoint


def test_find_pairs_by_stem(tmp_path):
    tool = load_tool_module()
    rgb, depth = str(tmp_path / 'rgb'), str(tmp_path / 'depth')
    for name in ('a.jpg', 'b.png', 'c.jpg'):
        write_image(os.path.join(rgb, name), np.zeros((4, 4, 3), np.uint8))
    open(os.path.join(rgb, 'notes.txt'), 'w').close()  # not an image: ignored
    for name in ('a.png', 'b.png', 'd.png'):
        write_image(os.path.join(depth, name), np.zeros((4, 4), np.uint8))
    pairs, rgb_alone, depth_alone = tool.find_pairs(rgb, depth)
    assert [(s, os.path.basename(r), os.path.basename(d)) for s, r, d in pairs] == [
        ('a', 'a.jpg', 'a.png'), ('b', 'b.png', 'b.png')]
    assert [os.path.basename(p) for p in rgb_alone] == ['c.jpg']
    assert [os.path.basename(p) for p in depth_alone] == ['d.png']

    single = tool.find_pairs(os.path.join(rgb, 'a.jpg'), os.path.join(depth, 'd.png'))
    assert single == ([('a', os.path.join(rgb, 'a.jpg'), os.path.join(depth, 'd.png'))], [], [])

    with pytest.raises(tool.InputError, match='both be files or both be folders'):
        tool.find_pairs(os.path.join(rgb, 'a.jpg'), depth)
    with pytest.raises(tool.InputError, match='--depth .*missing does not exist'):
        tool.find_pairs(rgb, str(tmp_path / 'missing'))
    write_image(os.path.join(rgb, 'a.png'), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(tool.InputError, match="stem 'a' \\(a.jpg, a.png\\)"):
        tool.find_pairs(rgb, depth)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(tool.InputError, match='no image files'):
        tool.find_pairs(str(empty), depth)
    other = tmp_path / 'other'
    write_image(str(other / 'zzz.png'), np.zeros((4, 4), np.uint8))
    with pytest.raises(tool.InputError, match='has a depth file of the same stem'):
        tool.find_pairs(depth, str(other))


def test_folders_labels_overlays_and_reported_problems(trained, tmp_path):
    config, checkpoint = trained
    rgb, depth, out = (str(tmp_path / d) for d in ('rgb', 'depth', 'out'))
    good_rgb, good_depth = random_pair(1)
    write_image(os.path.join(rgb, 'good.jpg'), good_rgb)
    write_image(os.path.join(depth, 'good.png'), good_depth)
    small_rgb, _ = random_pair(2)
    write_image(os.path.join(rgb, 'mismatch.jpg'), small_rgb)
    write_image(os.path.join(depth, 'mismatch.png'), np.zeros((H // 2, W), np.uint8))
    write_image(os.path.join(rgb, 'lonely.jpg'), small_rgb)
    write_image(os.path.join(depth, 'orphan.png'), good_depth)
    with open(os.path.join(depth, 'broken.png'), 'wb') as f:
        f.write(b'garbage')
    write_image(os.path.join(rgb, 'broken.jpg'), small_rgb)

    result = run_tool(config, checkpoint, '--rgb', rgb, '--depth', depth, '--out', out, '--overlay', '--legend',
                      '--save-scores')
    assert result.returncode == 1, result.stderr
    assert 'Traceback' not in result.stderr
    assert 'no depth file of the same stem' in result.stderr and 'lonely.jpg' in result.stderr
    assert 'no RGB image of the same stem' in result.stderr and 'orphan.png' in result.stderr
    assert 'cannot decode depth file' in result.stderr and 'broken.png' in result.stderr
    assert 'mismatch.png is 20x56 (HxW) but image file' in result.stderr
    assert '2 pair(s) failed' in result.stderr
    assert 'segmented 1 of 3 pair(s)' in result.stdout

    assert sorted(os.listdir(os.path.join(out, 'labels'))) == ['good.png']
    labels = cv2.imread(os.path.join(out, 'labels', 'good.png'), cv2.IMREAD_UNCHANGED)
    scores = np.load(os.path.join(out, 'scores', 'good.npy'))
    model = init_model(config, checkpoint, device='cpu')
    expected = inference_model(model, os.path.join(rgb, 'good.jpg'), os.path.join(depth, 'good.png'),
                               return_scores=True)
    assert labels.dtype == np.uint8 and labels.shape == (H, W)
    np.testing.assert_array_equal(labels, expected.label_map)
    np.testing.assert_allclose(scores, expected.scores, atol=1e-5)
    overlay = cv2.imread(os.path.join(out, 'overlays', 'good.png'))
    assert overlay.shape[0] == H and overlay.shape[1] > W  # the legend panel widens it


def test_single_pair_with_tta(trained, tmp_path):
    config, checkpoint = trained
    rgb_image, depth_image = random_pair(3)
    rgb, depth, out = str(tmp_path / 'x.png'), str(tmp_path / 'x_depth.png'), str(tmp_path / 'out')
    write_image(rgb, rgb_image)
    write_image(depth, depth_image)
    result = run_tool(config, checkpoint, '--rgb', rgb, '--depth', depth, '--out', out, '--tta')
    assert result.returncode == 0, result.stderr
    assert os.listdir(out) == ['labels']
    model = enable_tta(init_model(config, checkpoint, device='cpu'))
    np.testing.assert_array_equal(cv2.imread(os.path.join(out, 'labels', 'x.png'), cv2.IMREAD_UNCHANGED),
                                  inference_model(model, rgb, depth).label_map)

    missing = run_tool(config, checkpoint, '--rgb', rgb, '--depth', str(tmp_path / 'none.png'), '--out', out)
    assert missing.returncode != 0 and 'error: --depth' in missing.stderr and 'does not exist' in missing.stderr
    assert 'Traceback' not in missing.stderr


def test_a_frame_sequence_into_a_video(trained, tmp_path):
    """--video: frame folders in, an mp4 and per-frame labels out; a broken frame is reported and skipped."""
    config, checkpoint = trained
    for i in range(3):
        rgb_image, depth_image = random_pair(10 + i)
        write_image(str(tmp_path / 'rgb' / f'{i:04d}.png'), rgb_image)
        write_image(str(tmp_path / 'depth' / f'{i:04d}.png'), depth_image)
    video, out = str(tmp_path / 'seq.mp4'), str(tmp_path / 'out')
    result = run_tool(config, checkpoint, '--rgb', str(tmp_path / 'rgb'), '--depth', str(tmp_path / 'depth'),
                      '--video', video, '--side-by-side', '--fps', '5', '--out', out)
    assert result.returncode == 0, result.stderr
    assert 'segmented 3 of 3 frame(s)' in result.stdout and 'frames/s' in result.stdout
    assert sorted(os.listdir(os.path.join(out, 'labels'))) == ['0000.png', '0001.png', '0002.png']
    capture = cv2.VideoCapture(video)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3 and capture.get(cv2.CAP_PROP_FPS) == 5
    assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 3 * W  # RGB | depth | prediction
    capture.release()

    with open(str(tmp_path / 'rgb' / '0001.png'), 'wb') as f:
        f.write(b'not a png')
    broken = run_tool(config, checkpoint, '--rgb', str(tmp_path / 'rgb'), '--depth', str(tmp_path / 'depth'),
                      '--video', video)
    assert broken.returncode == 1 and 'segmented 2 of 3 frame(s)' in broken.stdout
    assert 'error: 1 frame(s) skipped' in broken.stderr and '0001' in broken.stderr

    no_video = run_tool(config, checkpoint, '--rgb', video, '--out', out)
    assert no_video.returncode == 2 and 'is a video: add --video' in no_video.stderr
