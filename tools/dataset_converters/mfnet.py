"""Convert the MFNet RGB-T release (Ha et al. 2017) to the layout of MFNetDataset.

    python tools/dataset_converters/mfnet.py data/ir_seg_dataset data/MFNet

The release (``ir_seg_dataset``) holds ``images/<name>.png``: 4-channel 480x640 PNGs whose first three
channels are the colour image and whose fourth is the thermal image; ``labels/<name>.png``: class ids
0..8 (0 = unlabeled, counted as a class); and the split files ``train.txt``, ``val.txt``, ``test.txt``
(also ``test_day.txt`` / ``test_night.txt`` when present) with one name per line. Written:

    OUT/RGB/<name>.png        the colour image
    OUT/Thermal/<name>.png    the thermal channel, 8-bit grayscale
    OUT/Label/<name>.png      the labels, unchanged
    OUT/<split>.txt           the same names
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

import numpy as np  # noqa: E402

from dformer_seg.datasets.converting import read_name_list, require_folders, write_split  # noqa: E402
from dformer_seg.datasets.errors import DataError  # noqa: E402
from dformer_seg.datasets.io import READ_UNCHANGED, read_image_file, write_image_file  # noqa: E402
from dformer_seg.datasets.metainfo import MFNET_CLASSES  # noqa: E402

SPLITS = ('train', 'val', 'test', 'test_day', 'test_night')
LAYOUT = 'images/*.png (4-channel RGB + thermal), labels/*.png, train.txt / val.txt / test.txt'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MFNet release -> RGB/, Thermal/, Label/ and split files')
    parser.add_argument('root', help='the extracted release (ir_seg_dataset: images/, labels/, train.txt, ...)')
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


def convert_sample(root, out, name):
    bgr, thermal = split_rgb_thermal(os.path.join(root, 'images', name + '.png'))
    label_path = os.path.join(root, 'labels', name + '.png')
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


def convert(root, out):
    """Convert every sample listed in the release's split files; returns ``{split: count}``."""
    require_folders(root, ('images', 'labels'), 'MFNet', LAYOUT)
    splits = {s: read_name_list(os.path.join(root, f'{s}.txt'), 'MFNet split file')
              for s in SPLITS if os.path.isfile(os.path.join(root, f'{s}.txt'))}
    if not splits:
        raise DataError(f'MFNet: no split file ({", ".join(s + ".txt" for s in SPLITS)}) in {root}')
    done = set()
    for split, names in splits.items():
        for name in names:
            if name not in done:
                convert_sample(root, out, name)
                done.add(name)
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
