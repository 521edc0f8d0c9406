"""tools/dataset_converters/cityscapes_disparity.py on a few images in the Cityscapes layout."""
import json
import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.metainfo import CITYSCAPES_CLASSES

from converter_checks import load_converted
from script_loading import load_script

converter = load_script('tools/dataset_converters/cityscapes_disparity.py', 'cityscapes_converter')
H, W = 8, 16
BASELINE, FX = 0.209313, 2262.52
# labelIds -> trainIds: road 7 -> 0, car 26 -> 13, sky 23 -> 10, bicycle 33 -> 18; unlabeled 0, parking 9 ignored
LABEL_IDS = np.array([[7, 26, 23, 33], [0, 9, 7, 26]], np.uint8)
TRAIN_IDS = np.array([[0, 13, 10, 18], [255, 255, 0, 13]], np.uint8)
IMAGES = {'train': [('aachen', 'aachen_000000_000019'), ('bremen', 'bremen_000001_000019')],
          'val': [('lindau', 'lindau_000000_000019')]}


def raw_disparity():
    """16-bit p with d = (p - 1) / 256: disparities 8..39.75 px; p = 0 (invalid) and p = 1 (d = 0)."""
    raw = (2049 + 64 * np.arange(H * W).reshape(H, W)).astype(np.uint16)
    raw[0, 0], raw[0, 1] = 0, 1
    return raw


def make_release(root, cameras=True):
    for split, images in IMAGES.items():
        for city, base in images:
            for kind, suffix, image in (('leftImg8bit', 'leftImg8bit', np.full((H, W, 3), 100, np.uint8)),
                                        ('disparity', 'disparity', raw_disparity()),
                                        ('gtFine', 'gtFine_labelIds', np.kron(LABEL_IDS, np.ones((4, 4), np.uint8)))):
                folder = os.path.join(root, kind, split, city)
                os.makedirs(folder, exist_ok=True)
                cv2.imwrite(os.path.join(folder, f'{base}_{suffix}.png'), image)
            if cameras:
                folder = os.path.join(root, 'camera', split, city)
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, f'{base}_camera.json'), 'w') as f:
                    json.dump({'extrinsic': {'baseline': BASELINE, 'pitch': 0.04}, 'intrinsic': {'fx': FX, 'fy': FX,
                               'u0': 1100.0, 'v0': 500.0}}, f)


def expected_depth():
    raw = raw_disparity().astype(np.float64)
    depth = np.where(raw > 1, BASELINE * FX / np.maximum((raw - 1) / 256, 1e-9), 0.0)
    return depth.astype(np.float32)


def test_converted_set_has_metric_depth_and_train_ids(tmp_path):
    root, out = str(tmp_path / 'cityscapes'), str(tmp_path / 'CityscapesRGBD')
    make_release(root)
    assert converter.convert(root, out) == {'train': 2, 'val': 1}
    depth = cv2.imread(os.path.join(out, 'Depth', 'bremen_000001_000019.tiff'), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth, expected_depth(), rtol=1e-6)
    assert depth[0, 0] == depth[0, 1] == 0 and depth[0, 2] == pytest.approx(BASELINE * FX / 8.5, rel=1e-6)
    dataset = load_converted('cityscapes_rgbd.py', out, 'train')
    assert dataset.classes == CITYSCAPES_CLASSES and dataset.num_classes == 19
    loaded = dataset[0]
    assert np.array_equal(loaded['gt_seg'], np.kron(TRAIN_IDS, np.ones((4, 4), np.uint8)))
    expected = np.clip(expected_depth() * 255 / 80, 0, 255)  # float_depth_range=(0, 80); holes keep 0
    np.testing.assert_allclose(loaded['depth'][:, :, 0], expected, rtol=1e-5)
    assert len(load_converted('cityscapes_rgbd.py', out, 'val')) == 1


def test_baseline_and_focal_replace_the_camera_files(tmp_path):
    root, out = str(tmp_path / 'stereo'), str(tmp_path / 'out')
    make_release(root, cameras=False)
    with pytest.raises(DataError, match=r'camera file not found: .*aachen_000000_000019_camera\.json'):
        converter.convert(root, out)
    converter.main([root, out, '--splits', 'val', '--baseline', str(BASELINE / 2), '--focal', str(FX)])
    depth = cv2.imread(os.path.join(out, 'Depth', 'lindau_000000_000019.tiff'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_allclose(depth, expected_depth() / 2, rtol=1e-6)
    assert sorted(os.listdir(out)) == ['Depth', 'Label', 'RGB', 'val.txt']


def test_wrong_folder(tmp_path):
    os.makedirs(tmp_path / 'wrong' / 'leftImg8bit')
    with pytest.raises(SystemExit, match=r'error: Cityscapes: .*wrong does not look like the released data: '
                                         r'no disparity, gtFine folder'):
        converter.main([str(tmp_path / 'wrong'), str(tmp_path / 'out')])
    root = str(tmp_path / 'cityscapes')
    make_release(root)
    with pytest.raises(DataError, match=r"no split 'test'"):
        converter.convert(root, str(tmp_path / 'out'), splits=['test'])


def test_corrupt_rgb_stops_the_run_and_leaves_no_split_file(tmp_path):
    root, out = str(tmp_path / 'cityscapes'), str(tmp_path / 'out')
    make_release(root)
    converter.convert(root, out)
    assert sorted(n for n in os.listdir(out) if n.endswith('.txt')) == ['train.txt', 'val.txt']
    # The val image is truncated: the train split converts, then the run stops.
    path = os.path.join(root, 'leftImg8bit', 'val', 'lindau', 'lindau_000000_000019_leftImg8bit.png')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    os.remove(os.path.join(out, 'RGB', 'lindau_000000_000019.png'))
    with pytest.raises(SystemExit, match=r'error: cannot decode Cityscapes RGB image file '
                                         r'.*lindau_000000_000019_leftImg8bit\.png: it is corrupt'):
        converter.main([root, out])
    assert not os.path.exists(os.path.join(out, 'RGB', 'lindau_000000_000019.png'))
    assert [n for n in os.listdir(out) if n.endswith('.txt')] == []  # not train.txt, nor the earlier run's lists


def test_rgb_of_another_size(tmp_path):
    root = str(tmp_path / 'cityscapes')
    make_release(root)
    cv2.imwrite(os.path.join(root, 'leftImg8bit', 'train', 'aachen', 'aachen_000000_000019_leftImg8bit.png'),
                np.zeros((H + 1, W, 3), np.uint8))
    with pytest.raises(DataError, match=r'Cityscapes RGB image .*aachen_000000_000019_leftImg8bit\.png is 9x16 but '
                                        r'its disparity is 8x16'):
        converter.convert(root, str(tmp_path / 'out'))
