"""tools/dataset_converters/mfnet.py on a few samples in the released layout."""
import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.metainfo import MFNET_CLASSES, MFNET_PALETTE

from converter_checks import load_converted
from script_loading import load_script

converter = load_script('tools/dataset_converters/mfnet.py', 'mfnet_converter')
H, W = 12, 16
SPLITS = {'train': ['00001D', '00002N'], 'val': ['00003D'], 'test': ['00004N']}


def sample(index):
    rng = np.random.default_rng(index)
    bgr = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    thermal = rng.integers(0, 256, (H, W), dtype=np.uint8)
    label = ((np.arange(H * W).reshape(H, W) // 7 + index) % len(MFNET_CLASSES)).astype(np.uint8)
    return bgr, thermal, label


def make_release(root):
    """ir_seg_dataset: images/ (4-channel: colour + thermal), labels/, split files."""
    for folder in ('images', 'labels'):
        os.makedirs(os.path.join(root, folder))
    index = 0
    for split, names in SPLITS.items():
        with open(os.path.join(root, f'{split}.txt'), 'w') as f:
            f.write(''.join(n + '\n' for n in names))
        for name in names:
            bgr, thermal, label = sample(index)
            cv2.imwrite(os.path.join(root, 'images', name + '.png'), np.dstack([bgr, thermal]))
            cv2.imwrite(os.path.join(root, 'labels', name + '.png'), label)
            index += 1


def test_converted_set_loads_with_classes_labels_and_thermal(tmp_path):
    root, out = str(tmp_path / 'ir_seg_dataset'), str(tmp_path / 'MFNet')
    make_release(root)
    assert converter.convert(root, out) == {'train': 2, 'val': 1, 'test': 1}
    dataset = load_converted('mfnet.py', out, 'train')
    assert dataset.classes == MFNET_CLASSES and dataset.num_classes == 9 and dataset.palette == list(MFNET_PALETTE)
    assert len(dataset) == 2
    for index in range(2):
        bgr, thermal, label = sample(index)
        loaded = dataset[index]
        assert np.array_equal(loaded['img'], bgr)
        assert np.array_equal(loaded['depth'][:, :, 0], thermal) and loaded['depth_channels'] == 3
        assert np.array_equal(loaded['gt_seg'], label)  # class 0 'unlabeled' is a class, not ignored
    assert len(load_converted('mfnet.py', out, 'test')) == 1


def test_wrong_folder_and_bad_images(tmp_path):
    with pytest.raises(DataError, match=r'MFNet: .*elsewhere does not look like the released data: no images, '
                                        r'labels folder'):
        os.makedirs(tmp_path / 'elsewhere')
        converter.convert(str(tmp_path / 'elsewhere'), str(tmp_path / 'out'))
    root = str(tmp_path / 'release')
    make_release(root)
    cv2.imwrite(os.path.join(root, 'images', '00002N.png'), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(SystemExit, match=r'error: MFNet image .*00002N\.png has 3 channel\(s\).*4-channel'):
        converter.main([root, str(tmp_path / 'out')])
    make_release(str(tmp_path / 'again'))
    cv2.imwrite(str(tmp_path / 'again' / 'labels' / '00001D.png'), np.full((H, W), 9, np.uint8))
    with pytest.raises(DataError, match=r'MFNet label .*00001D\.png has value 9'):
        converter.convert(str(tmp_path / 'again'), str(tmp_path / 'out2'))


CMX_SPLITS = {'train': ['00001D', '00002N'], 'test': ['00003D']}


def make_cmx_copy(root, modal_channels=3):
    """The CMX / DFormer copy: RGB/, Modal/ (thermal), Label/, train.txt and test.txt."""
    for folder in ('RGB', 'Modal', 'Label'):
        os.makedirs(os.path.join(root, folder))
    index = 0
    for split, names in CMX_SPLITS.items():
        with open(os.path.join(root, f'{split}.txt'), 'w') as f:
            f.write(''.join(n + '\n' for n in names))
        for name in names:
            bgr, thermal, label = sample(index)
            cv2.imwrite(os.path.join(root, 'RGB', name + '.png'), bgr)
            cv2.imwrite(os.path.join(root, 'Modal', name + '.png'),
                        np.dstack([thermal] * modal_channels) if modal_channels > 1 else thermal)
            cv2.imwrite(os.path.join(root, 'Label', name + '.png'), label)
            index += 1


def assert_samples(dataset, indices):
    """The data set holds the samples ``sample(i)`` for ``i`` in ``indices``, in that order."""
    assert len(dataset) == len(indices)
    for position, index in enumerate(indices):
        bgr, thermal, label = sample(index)
        loaded = dataset[position]
        assert np.array_equal(loaded['img'], bgr)
        assert np.array_equal(loaded['depth'][:, :, 0], thermal)
        assert np.array_equal(loaded['gt_seg'], label)


def test_dataset_reads_the_cmx_copy_with_its_modal_folder(tmp_path):
    root = str(tmp_path / 'MFNet_cmx')
    make_cmx_copy(root)
    dataset = load_converted('mfnet.py', root, 'train')
    assert dataset.depth_dir == 'Modal'
    assert_samples(dataset, [0, 1])
    assert_samples(load_converted('mfnet.py', root, 'test'), [2])


@pytest.mark.parametrize('modal_channels', [1, 3])
def test_converter_reads_the_cmx_copy(tmp_path, modal_channels):
    root, out = str(tmp_path / 'MFNet_cmx'), str(tmp_path / 'MFNet')
    make_cmx_copy(root, modal_channels)
    assert converter.convert(root, out) == {'train': 2, 'test': 1}
    assert sorted(os.listdir(out)) == ['Label', 'RGB', 'Thermal', 'test.txt', 'train.txt']
    thermal = cv2.imread(os.path.join(out, 'Thermal', '00002N.png'), cv2.IMREAD_UNCHANGED)
    assert thermal.ndim == 2 and np.array_equal(thermal, sample(1)[1])
    dataset = load_converted('mfnet.py', out, 'train')
    assert dataset.depth_dir == 'Thermal'
    assert_samples(dataset, [0, 1])
    assert_samples(load_converted('mfnet.py', out, 'test'), [2])


def test_cmx_copy_with_a_missing_folder_or_a_bad_image(tmp_path):
    root = str(tmp_path / 'partial')
    make_cmx_copy(root)
    os.rename(os.path.join(root, 'Modal'), os.path.join(root, 'Thermal_old'))
    with pytest.raises(DataError, match=r'MFNet: .*partial does not look like the released data: no Modal folder'):
        converter.convert(root, str(tmp_path / 'out'))
    root = str(tmp_path / 'cmx')
    make_cmx_copy(root)
    cv2.imwrite(os.path.join(root, 'Modal', '00003D.png'), np.zeros((H, W + 1), np.uint8))
    with pytest.raises(DataError, match=r'MFNet thermal image .*00003D\.png is 12x17 but its RGB image is 12x16'):
        converter.convert(root, str(tmp_path / 'out'))


def test_a_run_that_stops_leaves_no_split_file(tmp_path):
    root, out = str(tmp_path / 'release'), str(tmp_path / 'MFNet')
    make_release(root)
    converter.convert(root, out)
    assert os.path.isfile(os.path.join(out, 'train.txt'))
    # The last sample (of the test split) is truncated: the earlier splits are converted, then the run stops.
    path = os.path.join(root, 'images', '00004N.png')
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(SystemExit, match=r'error: cannot decode MFNet image file .*00004N\.png: it is corrupt'):
        converter.main([root, out])
    assert [n for n in os.listdir(out) if n.endswith('.txt')] == []
