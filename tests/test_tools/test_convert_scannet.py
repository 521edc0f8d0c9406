"""tools/dataset_converters/scannet.py on a few frames in the layout of scannet_frames_25k."""
import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.metainfo import SCANNET_V2_CLASSES

from converter_checks import load_converted
from script_loading import load_script

converter = load_script('tools/dataset_converters/scannet.py', 'scannet_converter')
H, W = 12, 16
# NYU40 id -> benchmark class: wall 1 -> 0, desk 14 -> 12, otherfurniture 39 -> 19; blinds 13,
# otherprop 40 and unannotated 0 are ignored
NYU40 = np.array([[1, 14, 39, 13], [40, 0, 1, 14], [39, 39, 1, 1]], np.uint16)
CLASSES = np.array([[0, 12, 19, 255], [255, 255, 0, 12], [19, 19, 0, 0]], np.uint8)


def blocks(small):
    """Each value of ``small`` (3x4) as a 4x4 block: a 12x16 image."""
    return np.kron(small, np.ones((4, 4), small.dtype))


def depth_mm(seed):
    depth = (1000 + 100 * np.arange(H * W).reshape(H, W) + seed).astype(np.uint16)
    depth[5, 6] = 0  # a sensor hole
    return depth


def write_frame(root, scene, frame, seed, label, colour_scale=2):
    folder = os.path.join(root, scene)
    for sub in ('color', 'depth', 'label'):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    colour = np.full((H * colour_scale, W * colour_scale, 3), (40 + seed, 90, 200), np.uint8)
    cv2.imwrite(os.path.join(folder, 'color', f'{frame}.jpg'), colour)
    cv2.imwrite(os.path.join(folder, 'depth', f'{frame}.png'), depth_mm(seed))
    # labels at the colour resolution, as in the release: resized (nearest) to the depth size
    cv2.imwrite(os.path.join(folder, 'label', f'{frame}.png'), np.kron(label, np.ones((2, 2), label.dtype)))


def make_frames(root, label=NYU40):
    for seed, (scene, frame) in enumerate([('scene0000_00', '0'), ('scene0000_00', '100'), ('scene0001_00', '0')]):
        write_frame(root, scene, frame, seed, blocks(label.astype(np.uint8 if label.max() < 256 else np.uint16)))
    for split, scene in (('train', 'scene0000_00'), ('val', 'scene0001_00')):
        with open(os.path.join(root, f'scannetv2_{split}.txt'), 'w') as f:
            f.write(scene + '\n')


def test_converted_set_has_the_20_classes_labels_and_depth(tmp_path):
    root, out = str(tmp_path / 'scannet_frames_25k'), str(tmp_path / 'ScanNetV2')
    make_frames(root)
    assert converter.convert(root, out) == {'train': 2, 'val': 1}
    with open(os.path.join(out, 'train.txt')) as f:
        assert f.read().split() == ['scene0000_00_0', 'scene0000_00_100']
    dataset = load_converted('scannet_v2.py', out, 'train')
    assert dataset.classes == SCANNET_V2_CLASSES and dataset.num_classes == 20
    loaded = dataset[1]
    assert loaded['img'].shape == (H, W, 3) and np.abs(loaded['img'].astype(int) - (41, 90, 200)).max() <= 6
    assert np.array_equal(loaded['gt_seg'], blocks(CLASSES))
    depth = loaded['depth'][:, :, 0]
    expected = depth_mm(1).astype(np.float64) * 255 / 10000
    measured = depth_mm(1) > 0
    np.testing.assert_allclose(depth[measured], np.minimum(expected[measured], 255), rtol=1e-5)
    assert depth[5, 6] in (depth[4, 6], depth[6, 6], depth[5, 5], depth[5, 7])  # hole_fill='nearest'
    assert len(load_converted('scannet_v2.py', out, 'val')) == 1


def test_raw_scannet_ids_through_the_label_map(tmp_path):
    root, out = str(tmp_path / 'frames'), str(tmp_path / 'out')
    raw = np.array([[1, 1000, 2, 7], [7, 0, 1, 1000], [2, 2, 1, 1]], np.uint16)  # 16-bit raw ids
    make_frames(root, label=raw)
    tsv = tmp_path / 'scannetv2-labels.combined.tsv'
    tsv.write_text('id\traw_category\tcategory\tcount\tnyu40id\tnyu40class\n'
                   '1\twall\twall\t8277\t1\twall\n2\tchair\tchair\t4646\t5\tchair\n'
                   '7\tbooks\tbook\t1678\t23\tbooks\n1000\tdesk\tdesk\t680\t14\tdesk\n')
    converter.convert(root, out, label_map=str(tsv))
    label = cv2.imread(os.path.join(out, 'Label', 'scene0000_00_0.png'), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(label, blocks(np.array([[0, 12, 4, 255], [255, 255, 0, 12], [4, 4, 0, 0]], np.uint8)))


def test_wrong_folder_and_missing_pieces(tmp_path):
    os.makedirs(tmp_path / 'wrong' / 'images')
    with pytest.raises(DataError, match=r'ScanNet: .*wrong does not look like ScanNet 2D frames: no <scene>/color/'):
        converter.convert(str(tmp_path / 'wrong'), str(tmp_path / 'out'))
    root = str(tmp_path / 'frames')
    make_frames(root)
    os.remove(os.path.join(root, 'scannetv2_train.txt'))
    os.remove(os.path.join(root, 'scannetv2_val.txt'))
    with pytest.raises(SystemExit, match='error: ScanNet: no scene lists'):
        converter.main([root, str(tmp_path / 'out')])
    scenes = tmp_path / 'scenes.txt'
    scenes.write_text('scene0000_00\nscene0999_00\n')
    with pytest.raises(DataError, match=r'scene0999_00 has no color/ folder'):
        converter.convert(root, str(tmp_path / 'out'), train_scenes=str(scenes))
    cv2.imwrite(os.path.join(root, 'scene0001_00', 'depth', '0.png'), np.zeros((H, W), np.uint8))
    val = tmp_path / 'val.txt'
    val.write_text('scene0001_00\n')
    with pytest.raises(DataError, match=r'ScanNet depth .*scene0001_00/depth/0\.png is uint8.*16-bit'):
        converter.convert(root, str(tmp_path / 'out'), val_scenes=str(val))


def test_a_run_that_stops_leaves_no_split_file(tmp_path):
    root, out = str(tmp_path / 'frames'), str(tmp_path / 'out')
    make_frames(root)
    converter.convert(root, out)
    # The val frame's depth is truncated: the training frames convert, then the run stops.
    path = os.path.join(root, 'scene0001_00', 'depth', '0.png')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(SystemExit, match=r'error: cannot decode ScanNet depth file .*scene0001_00/depth/0\.png'):
        converter.main([root, out])
    assert [n for n in os.listdir(out) if n.endswith('.txt')] == []  # not train.txt, nor the earlier run's lists
