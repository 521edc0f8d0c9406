"""Convert Cityscapes (or a set in its layout) to RGB-D: depth from the stereo disparity maps.

    python tools/dataset_converters/cityscapes_disparity.py data/cityscapes data/CityscapesRGBD \
        [--splits train val] [--baseline 0.209313 --focal 2262.52]

The release holds, per split and city, ``leftImg8bit/<split>/<city>/<base>_leftImg8bit.png``,
``disparity/<split>/<city>/<base>_disparity.png`` (16-bit p: disparity d = (p - 1) / 256 pixels for
p > 0, p = 0 invalid), ``gtFine/<split>/<city>/<base>_gtFine_labelIds.png`` and
``camera/<split>/<city>/<base>_camera.json`` (``extrinsic.baseline`` in metres, ``intrinsic.fx`` in
pixels). Depth = baseline x fx / d metres; p <= 1 (invalid, or zero disparity: infinitely far) is 0,
"no measurement". --baseline/--focal replace the camera files (a set without them). Labels go from
labelIds to the 19 trainIds (255 = ignore). Every image is decoded (a corrupt or truncated file stops
the run with an error naming it). Written:

    OUT/RGB/<base>.png, OUT/Depth/<base>.tiff (32-bit float metres), OUT/Label/<base>.png, OUT/<split>.txt

The split files are written last, once every image of every split is converted: a run that stops with
an error leaves no split file of the splits it was asked for (those of an earlier run are removed first).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

import numpy as np  # noqa: E402

from dformer_seg.datasets.converting import copy_file, require_folders, write_split  # noqa: E402
from dformer_seg.datasets.errors import DataError  # noqa: E402
from dformer_seg.datasets.io import READ_COLOR, READ_UNCHANGED, read_image_file, write_image_file  # noqa: E402
from dformer_seg.datasets.metainfo import CITYSCAPES_TRAIN_IDS  # noqa: E402

IGNORE = 255
DISPARITY_UNITS_PER_PIXEL = 256.0
LAYOUT = 'leftImg8bit/, disparity/, gtFine/, camera/ with <split>/<city>/<base>_<kind>.png|.json'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Cityscapes-style disparity -> RGB/, Depth/ (metres), Label/')
    parser.add_argument('root', help='folder with leftImg8bit/, disparity/, gtFine/ (and camera/)')
    parser.add_argument('out', help='output folder (data_root of CityscapesRGBDDataset)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'], help='splits to convert (default: train val)')
    parser.add_argument('--baseline', type=float, help='stereo baseline in metres (instead of camera/*.json)')
    parser.add_argument('--focal', type=float, help='focal length fx in pixels (instead of camera/*.json)')
    args = parser.parse_args(argv)
    if (args.baseline is None) != (args.focal is None):
        parser.error('give both --baseline and --focal, or neither (then camera/*.json is read)')
    if args.baseline is not None and not (args.baseline > 0 and args.focal > 0):
        parser.error(f'--baseline and --focal must be positive, got {args.baseline} and {args.focal}')
    return args


def train_id_lookup():
    table = np.full(256, IGNORE, dtype=np.uint8)
    for label_id, train_id in CITYSCAPES_TRAIN_IDS.items():
        table[label_id] = train_id
    return table


def read_camera(path):
    """``baseline x fx`` of a Cityscapes camera file."""
    if not os.path.isfile(path):
        raise DataError(f'Cityscapes camera file not found: {path} (or pass --baseline and --focal)')
    with open(path, encoding='utf-8') as f:
        try:
            camera = json.load(f)
            baseline, fx = float(camera['extrinsic']['baseline']), float(camera['intrinsic']['fx'])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f'Cityscapes camera file {path} lacks extrinsic.baseline / intrinsic.fx '
                            f'({type(exc).__name__}: {exc})') from None
    if not (baseline > 0 and fx > 0):
        raise DataError(f'Cityscapes camera file {path}: baseline {baseline} and fx {fx} must be positive')
    return baseline * fx


def depth_from_disparity(path, baseline_focal):
    raw = read_image_file(path, READ_UNCHANGED, 'disparity')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise DataError(f'disparity file {path} is {raw.dtype} with shape {raw.shape}; expected a 16-bit '
                        f'single-channel PNG (p: disparity (p - 1) / 256)')
    disparity = (raw.astype(np.float64) - 1.0) / DISPARITY_UNITS_PER_PIXEL
    measured = raw > 1
    depth = np.zeros(raw.shape, dtype=np.float32)
    depth[measured] = baseline_focal / disparity[measured]
    return depth


def remove_split_file(out, split):
    path = os.path.join(out, f'{split}.txt')
    if os.path.isfile(path):
        os.remove(path)


def check_rgb(path, shape):
    """Decode the colour image at ``path`` (so that a corrupt file is not copied) and check its size."""
    image = read_image_file(path, READ_COLOR, 'Cityscapes RGB image')
    if image.shape[:2] != shape:
        raise DataError(f'Cityscapes RGB image {path} is {image.shape[0]}x{image.shape[1]} but its disparity is '
                        f'{shape[0]}x{shape[1]}')


def convert_split(root, out, split, baseline_focal, lookup):
    """Convert one split's images; returns their names."""
    image_root = os.path.join(root, 'leftImg8bit', split)
    if not os.path.isdir(image_root):
        raise DataError(f'Cityscapes: no split {split!r} in {root} ({image_root} is not a folder)')
    names = []
    for city in sorted(os.listdir(image_root)):
        city_dir = os.path.join(image_root, city)
        bases = sorted(n[:-len('_leftImg8bit.png')] for n in os.listdir(city_dir) if n.endswith('_leftImg8bit.png'))
        for base in bases:
            disparity_path = os.path.join(root, 'disparity', split, city, f'{base}_disparity.png')
            camera_path = os.path.join(root, 'camera', split, city, f'{base}_camera.json')
            depth = depth_from_disparity(disparity_path, baseline_focal or read_camera(camera_path))
            label_path = os.path.join(root, 'gtFine', split, city, f'{base}_gtFine_labelIds.png')
            label_ids = read_image_file(label_path, READ_UNCHANGED, 'Cityscapes label')
            if label_ids.dtype != np.uint8 or label_ids.shape != depth.shape:
                raise DataError(f'Cityscapes label {label_path} is {label_ids.dtype} with shape {label_ids.shape}; '
                                f'expected 8-bit labelIds of the disparity\'s size {depth.shape}')
            rgb_path = os.path.join(city_dir, f'{base}_leftImg8bit.png')
            check_rgb(rgb_path, depth.shape)
            copy_file(rgb_path, os.path.join(out, 'RGB', base + '.png'))
            write_image_file(os.path.join(out, 'Depth', base + '.tiff'), depth)
            write_image_file(os.path.join(out, 'Label', base + '.png'), lookup[label_ids])
            names.append(base)
    if not names:
        raise DataError(f'Cityscapes: no *_leftImg8bit.png images under {image_root}')
    return names


def convert(root, out, splits=('train', 'val'), baseline=None, focal=None):
    """Convert the splits; returns ``{split: number of images}``."""
    require_folders(root, ('leftImg8bit', 'disparity', 'gtFine'), 'Cityscapes', LAYOUT)
    baseline_focal = baseline * focal if baseline is not None else None
    lookup = train_id_lookup()
    for split in splits:
        remove_split_file(out, split)
    names = {split: convert_split(root, out, split, baseline_focal, lookup) for split in splits}
    for split, split_names in names.items():
        write_split(out, split, split_names)
    return {split: len(split_names) for split, split_names in names.items()}


def main(argv=None):
    args = parse_args(argv)
    try:
        counts = convert(args.root, args.out, args.splits, args.baseline, args.focal)
    except DataError as exc:
        sys.exit(f'error: {exc}')
    print(f'wrote Cityscapes RGB-D to {args.out}: ' + ', '.join(f'{s} {n} images' for s, n in counts.items()))


if __name__ == '__main__':
    main()
