"""tools/dataset_converters/stanford2d3ds.py on a few frames in the released layout."""
import json
import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.metainfo import STANFORD2D3DS_CLASSES
from dformer_seg.datasets.pipelines import LoadDepthFromFile

from converter_checks import load_converted
from script_loading import load_script

converter = load_script('tools/dataset_converters/stanford2d3ds.py', 'stanford_converter')
H, W = 16, 16
# semantic_labels.json: entry 0 unknown, then "<class>_<instance>_<room>_<area>"
NAMES = ['<UNK>_0_<UNK>_0'] + [f'clutter_{i}_office_1_1' for i in range(1, 300)]
NAMES[1], NAMES[257], NAMES[299], NAMES[5] = 'ceiling_1_office_1_1', 'wall_2_office_1_1', 'board_1_office_1_1', \
    'stairs_1_office_1_1'
# indices in the image -> expected class: 1 ceiling 0, 257 wall 2, 299 board 11, 6 clutter 12, 5 stairs (not
# among the 13) and 0 unknown and 855309 (past the list; the colour (13, 13, 13)) ignored
INDICES = np.array([[1, 257, 299, 6], [5, 0, 855309, 1], [257, 257, 6, 6], [299, 1, 1, 0]], np.int64)
CLASSES = np.array([[0, 2, 11, 12], [255, 255, 255, 0], [2, 2, 12, 12], [11, 0, 0, 255]], np.uint8)
FRAMES = {'area_1': ['camera_0a1b_office_1_frame_0', 'camera_0a1b_office_1_frame_1'],
          'area_3': ['camera_77_wc_1_frame_4'], 'area_5a': ['camera_9f_hallway_2_frame_0']}
K = [[8.0, 0.0, 7.5], [0.0, 8.0, 7.5], [0.0, 0.0, 1.0]]


def raw_depth(seed):
    """16-bit 1/512 m: 1 m + a ramp; one pixel without measurement (65535)."""
    depth = (512 + 40 * np.arange(H * W).reshape(H, W) + seed).astype(np.uint16)
    depth[3, 4] = 65535
    return depth


def semantic_bgr():
    index = np.kron(INDICES, np.ones((4, 4), np.int64))
    rgb = np.stack([(index >> 16) & 255, (index >> 8) & 255, index & 255], axis=2).astype(np.uint8)
    return rgb[:, :, ::-1].copy()


def make_release(root, labels_in='assets'):
    seed = 0
    for area, frames in FRAMES.items():
        data = os.path.join(root, area, 'data')
        for sub in ('rgb', 'depth', 'semantic', 'pose'):
            os.makedirs(os.path.join(data, sub), exist_ok=True)
        for frame in frames:
            colour = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
            cv2.imwrite(os.path.join(data, 'rgb', f'{frame}_domain_rgb.png'), colour)
            cv2.imwrite(os.path.join(data, 'depth', f'{frame}_domain_depth.png'), raw_depth(seed))
            cv2.imwrite(os.path.join(data, 'semantic', f'{frame}_domain_semantic.png'), semantic_bgr())
            with open(os.path.join(data, 'pose', f'{frame}_domain_pose.json'), 'w') as f:
                json.dump({'camera_k_matrix': K, 'field_of_view_rads': 1.57}, f)
            seed += 1
    os.makedirs(os.path.join(root, labels_in), exist_ok=True)
    with open(os.path.join(root, labels_in, 'semantic_labels.json'), 'w') as f:
        json.dump(NAMES, f)


def test_converted_set_has_13_classes_labels_and_millimetre_depth(tmp_path):
    root, out = str(tmp_path / '2D-3D-Semantics'), str(tmp_path / 'Stanford2D3DS')
    make_release(root)
    assert converter.convert(root, out, hha=True) == {'train': 3, 'test': 1}
    dataset = load_converted('stanford2d3ds.py', out, 'train')
    assert dataset.classes == STANFORD2D3DS_CLASSES and dataset.num_classes == 13
    names = [os.path.basename(s['img_path']) for s in dataset.samples]
    assert names[0] == 'area_1_camera_0a1b_office_1_frame_0.png' and len(names) == 3
    loaded = dataset[1]
    assert np.array_equal(loaded['img'], np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8))
    assert np.array_equal(loaded['gt_seg'], np.kron(CLASSES, np.ones((4, 4), np.uint8)))
    millimetres = cv2.imread(os.path.join(out, 'Depth', names[1]), cv2.IMREAD_UNCHANGED)
    expected = np.rint(raw_depth(1) * (1000 / 512)).astype(np.int64)
    expected[3, 4] = 0  # 65535 -> no measurement
    assert millimetres.dtype == np.uint16 and np.array_equal(millimetres, expected)
    depth = loaded['depth'][:, :, 0]
    measured = expected > 0
    np.testing.assert_allclose(depth[measured], np.minimum(expected[measured] * 255 / 10000, 255), rtol=1e-5)
    assert depth[3, 4] in (depth[2, 4], depth[4, 4], depth[3, 3], depth[3, 5])  # nearest measured value
    test_set = load_converted('stanford2d3ds.py', out, 'test')
    assert os.path.basename(test_set.samples[0]['img_path']).startswith('area_5a_')
    hha = LoadDepthFromFile(color_type='color', color_order='rgb', modality='HHA')(
        dict(depth_path=os.path.join(out, 'HHA', names[1])))['depth']
    assert hha.shape == (H, W, 3) and (hha[3, 4] == 0).all() and hha[:, :, 0].max() > 0


def test_other_test_areas_and_labels_json_at_the_root(tmp_path):
    root, out = str(tmp_path / 'release'), str(tmp_path / 'out')
    make_release(root, labels_in='.')
    assert converter.convert(root, out, test_areas=['area_3']) == {'train': 3, 'test': 1}
    with pytest.raises(DataError, match=r'test area\(s\) area_9 not found'):
        converter.convert(root, out, test_areas=['area_9'])


def test_wrong_folder_and_missing_label_list(tmp_path):
    os.makedirs(tmp_path / 'wrong' / 'rgb')
    with pytest.raises(SystemExit, match=r'error: Stanford-2D-3D-S: .*wrong does not look like the release: '
                                         r'no area_\*/data/rgb/'):
        converter.main([str(tmp_path / 'wrong'), str(tmp_path / 'out')])
    root = str(tmp_path / 'release')
    make_release(root)
    os.remove(os.path.join(root, 'assets', 'semantic_labels.json'))
    with pytest.raises(DataError, match='semantic_labels.json not found'):
        converter.convert(root, str(tmp_path / 'out'))


def truncate(path):
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def test_corrupt_rgb_stops_the_run_and_leaves_no_split_file(tmp_path):
    root, out = str(tmp_path / 'release'), str(tmp_path / 'out')
    make_release(root)
    converter.convert(root, out)
    assert sorted(n for n in os.listdir(out) if n.endswith('.txt')) == ['test.txt', 'train.txt']
    # The last frame (area_5a, converted after the three training frames) has a truncated RGB image.
    truncate(os.path.join(root, 'area_5a', 'data', 'rgb', 'camera_9f_hallway_2_frame_0_domain_rgb.png'))
    os.remove(os.path.join(out, 'RGB', 'area_5a_camera_9f_hallway_2_frame_0.png'))
    with pytest.raises(SystemExit, match=r'error: cannot decode Stanford-2D-3D-S RGB image file '
                                         r'.*camera_9f_hallway_2_frame_0_domain_rgb\.png: it is corrupt'):
        converter.main([root, out])
    assert not os.path.exists(os.path.join(out, 'RGB', 'area_5a_camera_9f_hallway_2_frame_0.png'))
    assert [n for n in os.listdir(out) if n.endswith('.txt')] == []  # the earlier run's lists are gone too


def test_rgb_of_another_size(tmp_path):
    root = str(tmp_path / 'release')
    make_release(root)
    cv2.imwrite(os.path.join(root, 'area_3', 'data', 'rgb', 'camera_77_wc_1_frame_4_domain_rgb.png'),
                np.zeros((H, W + 2, 3), np.uint8))
    with pytest.raises(DataError, match=r'RGB image .*camera_77_wc_1_frame_4_domain_rgb\.png is 16x18 but its '
                                        r'depth is 16x16'):
        converter.convert(root, str(tmp_path / 'out'))
