"""Convert MFNet RGB-T (Ha et al. 2017) to the layout of MFNetDataset.

    python tools/dataset_converters/mfnet.py data/ir_seg_dataset data/MFNet

Two layouts of the data are read (the one found in ROOT is used):

* the original release (``ir_seg_dataset``, as RTFNet distributes it): ``images/<name>.png``, 4-channel
  480x640 PNGs whose first three channels are the colour image and whose fourth is the thermal image;
  ``labels/<name>.png``;
* the CMX / DFormer copy: ``RGB/<name>.png`` (colour), ``Modal/<name>.png`` (the thermal image, 1 or 3
  identical channels; read as grayscale, like the official loader), ``Label/<name>.png``.

Labels are class ids 0..8 (0 = unlabeled, counted as a class). The split files ``train.txt``,
``val.txt``, ``test.txt`` (also ``test_day.txt`` / ``test_night.txt``; the CMX copy has only train and
test) hold one name per line. Every image is decoded and checked. Written:

    OUT/RGB/<name>.png        the colour image
    OUT/Thermal/<name>.png    the thermal image, 8-bit grayscale
    OUT/Label/<name>.png      the labels, unchanged
    OUT/<split>.txt           the same names

The split files are written last, once every sample is converted: a run that stops with an error leaves
no split file (those of an earlier run are removed first).

MFNetDataset also reads the CMX copy as it is (its ``Modal/`` folder in place of ``Thermal/``).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

import numpy as np  # noqa: E402

from dformer_seg.datasets.converting import read_name_list, require_folders, write_split  # noqa: E402
from dformer_seg.datasets.errors import DataError  # noqa: E402
from dformer_seg.datasets.io import (  # noqa: E402
    READ_COLOR,  # noqa: E402
    READ_GRAYSCALE_ANY_DEPTH,
    READ_UNCHANGED,
    read_image_file,
    write_image_file,
)
from dformer_seg.datasets.metainfo import MFNET_CLASSES  # noqa: E402

SPLITS = ('train', 'val', 'test', 'test_day', 'test_night')
RELEASE_FOLDERS = ('images', 'labels')
CMX_FOLDERS = ('RGB', 'Modal', 'Label')
LAYOUT = ('images/*.png (4-channel RGB + thermal), labels/*.png (the release), or RGB/, Modal/, Label/ (the CMX / '
          'DFormer copy), with train.txt / val.txt / test.txt')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MFNet release -> RGB/, Thermal/, Label/ and split files')
    parser.add_argument('root', help='the extracted data: the release (images/, labels/, train.txt, ...) or the '
                                     'CMX / DFormer copy (RGB/, Modal/, Label/, train.txt, test.txt)')
    parser.add_argument('out', help='output folder (data_root of MFNetDataset)')
    return parser.parse_args(argv)


def split_rgb_thermal(path):
    """``(bgr, thermal)`` of a 4-channel release image."""
    image = read_image_file(path, READ_UNCHANGED, 'MFNet image')
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
        channels = image.shape[2] if image.ndim == 3 else 1
        raise DataError(f'MFNet image {path} has {channels} channel(s) of type {image.dtype}; the release '
                        f'images are 4-channel 8-bit PNGs (colour + thermal)')
    # OpenCV gives the colour channels as B, G, R; the thermal image stays the fourth channel.
    return np.ascontiguousarray(image[:, :, :3]), np.ascontiguousarray(image[:, :, 3])


def read_release_sample(root, name):
    """``(bgr, thermal, label path)`` of a sample of the original release."""
    bgr, thermal = split_rgb_thermal(os.path.join(root, 'images', name + '.png'))
    return bgr, thermal, os.path.join(root, 'labels', name + '.png')


def read_cmx_sample(root, name):
    """``(bgr, thermal, label path)`` of a sample of the CMX / DFormer copy."""
    rgb_path, modal_path = os.path.join(root, 'RGB', name + '.png'), os.path.join(root, 'Modal', name + '.png')
    bgr = read_image_file(rgb_path, READ_COLOR, 'MFNet RGB image')
    thermal = read_image_file(modal_path, READ_GRAYSCALE_ANY_DEPTH, 'MFNet thermal (Modal) image')
    if thermal.dtype != np.uint8:
        raise DataError(f'MFNet thermal image {modal_path} is {thermal.dtype}; expected an 8-bit image')
    if thermal.shape != bgr.shape[:2]:
        raise DataError(f'MFNet thermal image {modal_path} is {thermal.shape[0]}x{thermal.shape[1]} but its RGB '
                        f'image is {bgr.shape[0]}x{bgr.shape[1]}')
    return bgr, thermal, os.path.join(root, 'Label', name + '.png')


def convert_sample(read_sample, root, out, name):
    bgr, thermal, label_path = read_sample(root, name)
    label = read_image_file(label_path, READ_UNCHANGED, 'MFNet label')
    if label.ndim != 2 or label.shape != thermal.shape:
        raise DataError(f'MFNet label {label_path} has shape {label.shape}; expected a single-channel '
                        f'{thermal.shape[0]}x{thermal.shape[1]} image like its RGB-thermal image')
    if label.max() >= len(MFNET_CLASSES):
        raise DataError(f'MFNet label {label_path} has value {int(label.max())}; MFNet labels are 0..'
                        f'{len(MFNET_CLASSES) - 1}')
    write_image_file(os.path.join(out, 'RGB', name + '.png'), bgr)
    write_image_file(os.path.join(out, 'Thermal', name + '.png'), thermal)
    write_image_file(os.path.join(out, 'Label', name + '.png'), label)


def sample_reader(root):
    """The reader of the layout found in ``root``: the CMX copy when it has RGB/, Modal/ or Label/ and no
    images/ folder, else the release."""
    if not os.path.isdir(os.path.join(root, 'images')) and any(os.path.isdir(os.path.join(root, f))
                                                               for f in CMX_FOLDERS):
        require_folders(root, CMX_FOLDERS, 'MFNet', LAYOUT)
        return read_cmx_sample
    require_folders(root, RELEASE_FOLDERS, 'MFNet', LAYOUT)
    return read_release_sample


def convert(root, out):
    """Convert every sample listed in the split files; returns ``{split: count}``."""
    read_sample = sample_reader(root)
    splits = {s: read_name_list(os.path.join(root, f'{s}.txt'), 'MFNet split file')
              for s in SPLITS if os.path.isfile(os.path.join(root, f'{s}.txt'))}
    if not splits:
        raise DataError(f'MFNet: no split file ({", ".join(s + ".txt" for s in SPLITS)}) in {root}')
    for split in SPLITS:
        split_file = os.path.join(out, f'{split}.txt')
        if os.path.isfile(split_file):
            os.remove(split_file)
    for name in dict.fromkeys(name for names in splits.values() for name in names):
        convert_sample(read_sample, root, out, name)
    for split, names in splits.items():
        write_split(out, split, names)
    return {split: len(names) for split, names in splits.items()}


def main(argv=None):
    args = parse_args(argv)
    try:
        counts = convert(args.root, args.out)
    except DataError as exc:
        sys.exit(f'error: {exc}')
    print(f'wrote MFNet to {args.out}: ' + ', '.join(f'{s} {n}' for s, n in counts.items()))


if __name__ == '__main__':
    main()
