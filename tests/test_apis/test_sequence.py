"""segment_sequence: RGB-D sequences (frame folders, videos, 16-bit depth frames) in, an mp4 and label PNGs out."""
import os

import cv2
import jittor as jt
import numpy as np
import pytest

from dformer_seg.apis import inference_model, init_model
from dformer_seg.apis.sequence import segment_sequence
from dformer_seg.config import Config
from dformer_seg.datasets import DataError
from dformer_seg.datasets.demo import depth_to_png8, render_scene

H, W = 40, 56
FRAMES = 4
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])


def mini_config():
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
                dict(type='Normalize', **NORM), dict(type='PackSegInputs')]
    model = dict(
        type='RGBDEncoderDecoder',
        backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
        decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                         ham_channels=32, num_classes=6, nmf_seed=0, norm_cfg=dict(type='BN', eps=1e-3)),
        test_cfg=dict(mode='whole'))
    dataset = dict(type='DemoRGBDDataset', data_root='unused', split='test', pipeline=pipeline)
    return Config(dict(model=model, test_dataloader=dict(batch_size=1, dataset=dataset)))


@pytest.fixture(scope='module')
def model():
    jt.set_global_seed(0)
    return init_model(mini_config(), device='cpu')


def write_video(path, frames, fps=12.0):
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (W, H))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


@pytest.fixture(scope='module')
def sequence(tmp_path_factory):
    """Demo-set renders as a recorded sequence: RGB frames, 8-bit and 16-bit depth frames, and both as videos."""
    root = tmp_path_factory.mktemp('sequence')
    rgb_frames, depth_m = [], []
    for index in range(FRAMES):
        rgb, depth, _ = render_scene(np.random.default_rng([1, index]), (H, W))
        rgb_frames.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        depth_m.append(depth)
    for folder in ('rgb', 'depth8', 'depth16'):
        (root / folder).mkdir()
    for index, (rgb, depth) in enumerate(zip(rgb_frames, depth_m)):
        cv2.imwrite(str(root / 'rgb' / f'{index:04d}.png'), rgb)
        cv2.imwrite(str(root / 'depth8' / f'{index:04d}.png'), depth_to_png8(depth))
        cv2.imwrite(str(root / 'depth16' / f'{index:04d}.png'), np.rint(depth * 1000).astype(np.uint16))  # mm
    write_video(str(root / 'rgb.mp4'), rgb_frames)
    write_video(str(root / 'depth.mp4'), [depth_to_png8(d) for d in depth_m])
    return root, rgb_frames, [depth_to_png8(d) for d in depth_m]


def read_video(path):
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def test_frame_folders_give_a_video_and_the_label_pngs(model, sequence, tmp_path):
    root, rgb_frames, depth_frames = sequence
    video, labels = str(tmp_path / 'out' / 'seg.mp4'), str(tmp_path / 'labels')
    summary = segment_sequence(model, str(root / 'rgb'), str(root / 'depth8'), video, labels_dir=labels,
                               progress=False)
    assert summary['written'] == FRAMES and summary['skipped'] == [] and summary['fps'] > 0
    frames, fps = read_video(video)
    assert len(frames) == FRAMES and frames[0].shape == (H, W, 3) and fps == pytest.approx(10.0)
    assert sorted(os.listdir(labels)) == [f'{i:04d}.png' for i in range(FRAMES)]
    expected = inference_model(model, rgb_frames[2], depth_frames[2], color_order='bgr').label_map
    assert np.array_equal(cv2.imread(os.path.join(labels, '0002.png'), cv2.IMREAD_UNCHANGED), expected)


def test_a_video_with_16_bit_depth_frames_side_by_side(model, sequence, tmp_path):
    root, _, _ = sequence
    video = str(tmp_path / 'side.mp4')
    summary = segment_sequence(model, str(root / 'rgb.mp4'), str(root / 'depth16'), video, side_by_side=True,
                               progress=False)
    assert summary['written'] == FRAMES
    frames, fps = read_video(video)
    assert len(frames) == FRAMES and frames[0].shape == (H, 3 * W, 3)  # RGB | depth | prediction
    assert fps == pytest.approx(12.0)  # the RGB video's rate


def test_an_rgb_video_with_a_depth_video(model, sequence, tmp_path):
    root, _, _ = sequence
    summary = segment_sequence(model, str(root / 'rgb.mp4'), str(root / 'depth.mp4'), str(tmp_path / 'v.mp4'),
                               labels_dir=str(tmp_path / 'labels'), progress=False)
    assert summary['written'] == FRAMES
    assert sorted(os.listdir(tmp_path / 'labels'))[0] == 'rgb_000000.png'


def test_a_broken_frame_is_reported_and_skipped(model, sequence, tmp_path):
    root, rgb_frames, _ = sequence
    folder = tmp_path / 'rgb'
    folder.mkdir()
    for index, frame in enumerate(rgb_frames):
        cv2.imwrite(str(folder / f'{index:04d}.png'), frame)
    (folder / '0001.png').write_bytes(b'\x89PNG not really')
    summary = segment_sequence(model, str(folder), str(root / 'depth8'), str(tmp_path / 'v.mp4'), progress=False)
    assert summary['written'] == FRAMES - 1
    assert [name for name, _ in summary['skipped']] == ['0001']
    assert 'corrupt or not an image' in summary['skipped'][0][1]
    assert len(read_video(str(tmp_path / 'v.mp4'))[0]) == FRAMES - 1


def test_streams_that_do_not_match_are_refused(model, sequence, tmp_path):
    root, _, depth_frames = sequence
    short = tmp_path / 'short'
    short.mkdir()
    for index in range(FRAMES - 1):
        cv2.imwrite(str(short / f'{index:04d}.png'), depth_frames[index])
    with pytest.raises(DataError, match=f'has {FRAMES - 1} frames but the RGB stream .* has {FRAMES}'):
        segment_sequence(model, str(root / 'rgb'), str(short), progress=False)
    small = tmp_path / 'small'
    small.mkdir()
    for index in range(FRAMES):
        cv2.imwrite(str(small / f'{index:04d}.png'), cv2.resize(depth_frames[index], (28, 20)))
    with pytest.raises(DataError, match=f'frames of 28x20 \\(WxH\\) but the RGB frames are {W}x{H}'):
        segment_sequence(model, str(root / 'rgb.mp4'), str(small), progress=False)
    not_a_video = tmp_path / 'clip.mp4'
    not_a_video.write_text('not a video')
    with pytest.raises(DataError, match='RGB video .*clip.mp4 cannot be opened'):
        segment_sequence(model, str(not_a_video), progress=False)
    with pytest.raises(FileNotFoundError, match='depth .*missing does not exist'):
        segment_sequence(model, str(root / 'rgb'), str(tmp_path / 'missing'), progress=False)
