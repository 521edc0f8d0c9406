"""Convert Stanford-2D-3D-S (Armeni et al. 2017) to the layout of Stanford2D3DSDataset (13 classes).

    python tools/dataset_converters/stanford2d3ds.py data/2D-3D-Semantics data/Stanford2D3DS \
        [--test-areas area_5a area_5b] [--labels-json semantic_labels.json] [--hha]

The release has one folder per area (``area_1`` ... ``area_4``, ``area_5a``, ``area_5b``, ``area_6``)
with ``data/rgb/<frame>_domain_rgb.png`` (1080x1080), ``data/depth/<frame>_domain_depth.png`` (16-bit,
1/512 m, 65535 = no measurement), ``data/semantic/<frame>_domain_semantic.png`` (the colour (r, g, b)
encodes the index r * 65536 + g * 256 + b into ``semantic_labels.json``, whose entries read
``<class>_<instance>_<room>_<area>``) and ``data/pose/<frame>_domain_pose.json`` (``camera_k_matrix``).
``semantic_labels.json`` is looked for in ROOT/assets/ and ROOT/ unless given. Indices past the end of
the list and classes outside the 13 (``<UNK>``) are ignored (255). The default split is fold 1:
areas 5a and 5b for testing, the others for training. Written:

    OUT/RGB/<area>_<frame>.png, OUT/Depth/<area>_<frame>.png (16-bit millimetres, 0 = no measurement),
    OUT/Label/<area>_<frame>.png (0..12, 255 = ignore), with --hha OUT/HHA/<area>_<frame>.png,
    OUT/train.txt, OUT/test.txt

Every image is decoded (a corrupt or truncated file stops the run with an error naming it). The split
files are written last, once every frame is converted: a run that stops with an error leaves no split
file (those of an earlier run are removed first).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

import numpy as np  # noqa: E402

from dformer_seg.datasets.converting import copy_file, write_split  # noqa: E402
from dformer_seg.datasets.errors import DataError  # noqa: E402
from dformer_seg.datasets.hha import depth_to_hha, read_intrinsics  # noqa: E402
from dformer_seg.datasets.io import READ_COLOR, READ_UNCHANGED, read_image_file, write_image_file  # noqa: E402
from dformer_seg.datasets.metainfo import STANFORD2D3DS_CLASSES  # noqa: E402

IGNORE = 255
DEPTH_UNITS_PER_M = 512
DEPTH_MISSING = 65535
FOLD1_TEST_AREAS = ('area_5a', 'area_5b')
LAYOUT = 'area_*/data/{rgb,depth,semantic}/<frame>_domain_<type>.png'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Stanford-2D-3D-S -> RGB/, Depth/, Label/ (HHA/) and split files')
    parser.add_argument('root', help='the extracted release (area_1, ..., area_6 folders)')
    parser.add_argument('out', help='output folder (data_root of Stanford2D3DSDataset)')
    parser.add_argument('--test-areas', nargs='+',
                        help='areas of the test split (default: fold 1, area_5a and area_5b)')
    parser.add_argument('--labels-json', help='semantic_labels.json (default: ROOT/assets/ or ROOT/)')
    parser.add_argument('--hha', action='store_true', help='also write HHA images (intrinsics from data/pose)')
    return parser.parse_args(argv)


def find_labels_json(root, given):
    candidates = [given] if given else [os.path.join(root, 'assets', 'semantic_labels.json'),
                                        os.path.join(root, 'semantic_labels.json')]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise DataError(f'Stanford-2D-3D-S: semantic_labels.json not found (tried {", ".join(candidates)}); '
                    f'pass --labels-json (the file is in the assets/ folder of the dataset\'s code release)')


def class_lookup(labels_json):
    """Semantic index -> class (0..12) or 255, as an array over the indices of the JSON list."""
    with open(labels_json, encoding='utf-8') as f:
        try:
            names = json.load(f)
        except json.JSONDecodeError as exc:
            raise DataError(f'Stanford-2D-3D-S label list {labels_json} is not valid JSON: {exc}') from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataError(f'Stanford-2D-3D-S label list {labels_json} must be a JSON list of strings '
                        f'"<class>_<instance>_<room>_<area>"')
    class_ids = {name: i for i, name in enumerate(STANFORD2D3DS_CLASSES)}
    return np.array([class_ids.get(n.split('_')[0], IGNORE) for n in names], dtype=np.uint8)


def find_areas(root):
    if not os.path.isdir(root):
        raise DataError(f'Stanford-2D-3D-S: {root} is not a folder (expected {LAYOUT})')
    areas = sorted(n for n in os.listdir(root) if n.startswith('area_')
                   and os.path.isdir(os.path.join(root, n, 'data', 'rgb')))
    if not areas:
        raise DataError(f'Stanford-2D-3D-S: {root} does not look like the release: no area_*/data/rgb/ folder '
                        f'(expected {LAYOUT}; wrong folder?)')
    return areas


def labels_from_semantic(path, lookup):
    bgr = read_image_file(path, READ_COLOR, 'Stanford-2D-3D-S semantic image')
    index = (bgr[:, :, 2].astype(np.int64) << 16) | (bgr[:, :, 1].astype(np.int64) << 8) | bgr[:, :, 0]
    return np.where(index < len(lookup), lookup[np.minimum(index, len(lookup) - 1)], IGNORE).astype(np.uint8)


def depth_millimetres(path):
    raw = read_image_file(path, READ_UNCHANGED, 'Stanford-2D-3D-S depth')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise DataError(f'Stanford-2D-3D-S depth {path} is {raw.dtype} with shape {raw.shape}; expected a '
                        f'16-bit single-channel PNG in 1/512 m')
    millimetres = np.rint(raw.astype(np.float64) * (1000.0 / DEPTH_UNITS_PER_M))
    # No measurement, and depth beyond what 16-bit millimetres hold (65.5 m), become 0.
    millimetres[(raw == DEPTH_MISSING) | (millimetres > np.iinfo(np.uint16).max)] = 0
    return millimetres.astype(np.uint16)


def check_rgb(path, shape):
    """Decode the colour image at ``path`` (so that a corrupt file is not copied) and check its size."""
    image = read_image_file(path, READ_COLOR, 'Stanford-2D-3D-S RGB image')
    if image.shape[:2] != shape:
        raise DataError(f'Stanford-2D-3D-S RGB image {path} is {image.shape[0]}x{image.shape[1]} but its depth is '
                        f'{shape[0]}x{shape[1]}')


def remove_split_file(out, split):
    path = os.path.join(out, f'{split}.txt')
    if os.path.isfile(path):
        os.remove(path)


def convert_frame(area_dir, out, name, frame, lookup, hha):
    data = os.path.join(area_dir, 'data')
    rgb_path = os.path.join(data, 'rgb', f'{frame}_domain_rgb.png')
    depth = depth_millimetres(os.path.join(data, 'depth', f'{frame}_domain_depth.png'))
    semantic_path = os.path.join(data, 'semantic', f'{frame}_domain_semantic.png')
    label = labels_from_semantic(semantic_path, lookup)
    if label.shape != depth.shape:
        raise DataError(f'Stanford-2D-3D-S semantic image {semantic_path} is {label.shape[0]}x{label.shape[1]} '
                        f'but its depth is {depth.shape[0]}x{depth.shape[1]}')
    check_rgb(rgb_path, depth.shape)
    copy_file(rgb_path, os.path.join(out, 'RGB', name + '.png'))
    write_image_file(os.path.join(out, 'Depth', name + '.png'), depth)
    write_image_file(os.path.join(out, 'Label', name + '.png'), label)
    if hha:
        pose = os.path.join(data, 'pose', f'{frame}_domain_pose.json')
        image, _ = depth_to_hha(depth / 1000.0, read_intrinsics(pose), source=f'depth of {rgb_path}')
        write_image_file(os.path.join(out, 'HHA', name + '.png'), image[:, :, ::-1])  # R, G, B = H, H, A


def convert(root, out, test_areas=None, labels_json=None, hha=False):
    """Convert every area; returns ``{split: number of frames}``. ``test_areas=None``: fold 1 (those of
    area_5a / area_5b that are present); areas given explicitly must all exist."""
    areas = find_areas(root)
    if test_areas is None:
        test_areas = [a for a in FOLD1_TEST_AREAS if a in areas] or list(FOLD1_TEST_AREAS)
    unknown = sorted(set(test_areas) - set(areas))
    if unknown:
        raise DataError(f'Stanford-2D-3D-S: test area(s) {", ".join(unknown)} not found in {root} '
                        f'(found {", ".join(areas)})')
    lookup = class_lookup(find_labels_json(root, labels_json))
    splits = {'train': [], 'test': []}
    for split in splits:
        remove_split_file(out, split)
    for area in areas:
        rgb_dir = os.path.join(root, area, 'data', 'rgb')
        frames = sorted(n[:-len('_domain_rgb.png')] for n in os.listdir(rgb_dir) if n.endswith('_domain_rgb.png'))
        for frame in frames:
            name = f'{area}_{frame}'
            convert_frame(os.path.join(root, area), out, name, frame, lookup, hha)
            splits['test' if area in test_areas else 'train'].append(name)
    for split, names in splits.items():
        write_split(out, split, names)
    return {split: len(names) for split, names in splits.items()}


def main(argv=None):
    args = parse_args(argv)
    try:
        counts = convert(args.root, args.out, args.test_areas, args.labels_json, args.hha)
    except DataError as exc:
        sys.exit(f'error: {exc}')
    print(f'wrote Stanford-2D-3D-S to {args.out}: ' + ', '.join(f'{s} {n} frames' for s, n in counts.items()))


if __name__ == '__main__':
    main()
