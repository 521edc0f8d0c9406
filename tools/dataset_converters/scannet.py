"""Convert ScanNet-v2 2D frames to the layout of ScanNetV2Dataset (the 20 benchmark classes).

    python tools/dataset_converters/scannet.py data/scannet_frames_25k data/ScanNetV2 \
        --train-scenes scannetv2_train.txt --val-scenes scannetv2_val.txt \
        [--label-map scannetv2-labels.combined.tsv] [--frame-step 1]

The input is one folder per scene, as in ``scannet_frames_25k`` or frames exported from the ``.sens``
files: ``<scene>/color/<frame>.jpg``, ``<scene>/depth/<frame>.png`` (16-bit millimetres, 0 = no
measurement) and ``<scene>/label/<frame>.png``. Label images hold NYU40 ids (0 = unannotated), as in
``scannet_frames_25k``; for raw ScanNet label ids (``label-filt`` of the full release, 16-bit) pass
``--label-map scannetv2-labels.combined.tsv`` (its ``id`` and ``nyu40id`` columns). The 20 benchmark
classes are NYU40 ids 1-12, 14, 16, 24, 28, 33, 34, 36 and 39, in that order; every other id is ignored
(255). The scene lists are the benchmark's ``scannetv2_train.txt`` / ``scannetv2_val.txt`` (looked for
in the input folder when not given). Written, at the depth map's size (colour is resized with area
averaging, labels with nearest neighbour when their size differs):

    OUT/RGB/<scene>_<frame>.jpg, OUT/Depth/<scene>_<frame>.png (16-bit mm), OUT/Label/<scene>_<frame>.png,
    OUT/train.txt, OUT/val.txt

The split files are written last, once every frame of every split is converted: a run that stops with
an error leaves no split file (those of an earlier run are removed first).
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dformer_seg.datasets.converting import read_name_list, write_split  # noqa: E402
from dformer_seg.datasets.errors import DataError  # noqa: E402
from dformer_seg.datasets.io import READ_COLOR, READ_UNCHANGED, read_image_file, write_image_file  # noqa: E402
from dformer_seg.datasets.metainfo import SCANNET_V2_NYU40_IDS  # noqa: E402

IGNORE = 255
LAYOUT = '<scene>/color/*.jpg, <scene>/depth/*.png, <scene>/label/*.png'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='ScanNet-v2 2D frames -> RGB/, Depth/, Label/ and split files')
    parser.add_argument('root', help='folder of scene folders (scannet_frames_25k or exported frames)')
    parser.add_argument('out', help='output folder (data_root of ScanNetV2Dataset)')
    parser.add_argument('--train-scenes', help='scene list (default: ROOT/scannetv2_train.txt)')
    parser.add_argument('--val-scenes', help='scene list (default: ROOT/scannetv2_val.txt)')
    parser.add_argument('--label-map', help='scannetv2-labels.combined.tsv, for label images of raw ScanNet ids')
    parser.add_argument('--frame-step', type=int, default=1, help='keep every N-th frame of a scene (default 1)')
    args = parser.parse_args(argv)
    if args.frame_step < 1:
        parser.error(f'--frame-step must be at least 1, got {args.frame_step}')
    return args


def nyu40_lookup():
    """NYU40 id -> benchmark class (0..19) or 255, as a table over 0..65535."""
    table = np.full(65536, IGNORE, dtype=np.uint8)
    table[list(SCANNET_V2_NYU40_IDS)] = np.arange(len(SCANNET_V2_NYU40_IDS))
    return table


def raw_id_lookup(tsv_path):
    """Raw ScanNet label id -> benchmark class, through the ``id`` -> ``nyu40id`` columns of the TSV."""
    if not os.path.isfile(tsv_path):
        raise DataError(f'ScanNet label map not found: {tsv_path}')
    with open(tsv_path, encoding='utf-8', newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    if not rows or not {'id', 'nyu40id'} <= set(rows[0]):
        raise DataError(f'ScanNet label map {tsv_path} needs the columns "id" and "nyu40id" (the file '
                        f'scannetv2-labels.combined.tsv)')
    to_class = nyu40_lookup()
    table = np.full(65536, IGNORE, dtype=np.uint8)
    for line_no, row in enumerate(rows, 2):
        try:
            raw_id, nyu40 = int(row['id']), int(row['nyu40id'])
        except ValueError:
            raise DataError(f'ScanNet label map {tsv_path}, line {line_no}: id {row["id"]!r} / nyu40id '
                            f'{row["nyu40id"]!r} are not integers') from None
        if 0 <= raw_id < len(table) and 0 <= nyu40 < len(to_class):
            table[raw_id] = to_class[nyu40]
    return table


def scene_frames(root, scene, frame_step):
    color_dir = os.path.join(root, scene, 'color')
    if not os.path.isdir(color_dir):
        raise DataError(f'ScanNet scene {os.path.join(root, scene)} has no color/ folder (expected {LAYOUT}; '
                        f'wrong folder?)')
    frames = sorted((os.path.splitext(n)[0] for n in os.listdir(color_dir) if n.lower().endswith('.jpg')),
                    key=lambda s: (len(s), s))
    if not frames:
        raise DataError(f'ScanNet scene folder {color_dir} has no .jpg frames')
    return frames[::frame_step]


def convert_frame(root, out, scene, frame, lookup):
    folder = os.path.join(root, scene)
    depth_path = os.path.join(folder, 'depth', frame + '.png')
    depth = read_image_file(depth_path, READ_UNCHANGED, 'ScanNet depth')
    if depth.dtype != np.uint16 or depth.ndim != 2:
        raise DataError(f'ScanNet depth {depth_path} is {depth.dtype} with shape {depth.shape}; expected a '
                        f'16-bit single-channel PNG in millimetres')
    size = (depth.shape[1], depth.shape[0])
    color = read_image_file(os.path.join(folder, 'color', frame + '.jpg'), READ_COLOR, 'ScanNet colour image')
    if color.shape[:2] != depth.shape:
        color = cv2.resize(color, size, interpolation=cv2.INTER_AREA)
    label_path = os.path.join(folder, 'label', frame + '.png')
    raw = read_image_file(label_path, READ_UNCHANGED, 'ScanNet label')
    if raw.ndim != 2 or raw.dtype not in (np.uint8, np.uint16):
        raise DataError(f'ScanNet label {label_path} is {raw.dtype} with shape {raw.shape}; expected a '
                        f'single-channel 8-bit or 16-bit PNG of label ids')
    if raw.shape != depth.shape:
        raw = cv2.resize(raw, size, interpolation=cv2.INTER_NEAREST)
    name = f'{scene}_{frame}'
    write_image_file(os.path.join(out, 'RGB', name + '.jpg'), color)
    write_image_file(os.path.join(out, 'Depth', name + '.png'), depth)
    write_image_file(os.path.join(out, 'Label', name + '.png'), lookup[raw])
    return name


def scene_list(given, root, default_name, what):
    path = given or os.path.join(root, default_name)
    if given is None and not os.path.isfile(path):
        return None
    return read_name_list(path, f'ScanNet {what} scene list')


def convert(root, out, train_scenes=None, val_scenes=None, label_map=None, frame_step=1):
    """Convert the listed scenes; returns ``{split: number of frames}``."""
    if not os.path.isdir(root):
        raise DataError(f'ScanNet: {root} is not a folder (expected scene folders: {LAYOUT})')
    if not any(os.path.isdir(os.path.join(root, n, 'color')) for n in os.listdir(root)):
        raise DataError(f'ScanNet: {root} does not look like ScanNet 2D frames: no <scene>/color/ folder '
                        f'(expected {LAYOUT}; wrong folder?)')
    splits = {split: scenes for split, scenes in (
        ('train', scene_list(train_scenes, root, 'scannetv2_train.txt', 'training')),
        ('val', scene_list(val_scenes, root, 'scannetv2_val.txt', 'validation'))) if scenes is not None}
    if not splits:
        raise DataError(f'ScanNet: no scene lists: pass --train-scenes/--val-scenes (scannetv2_train.txt, '
                        f'scannetv2_val.txt of the benchmark) or put them in {root}')
    lookup = raw_id_lookup(label_map) if label_map else nyu40_lookup()
    for split in splits:
        split_file = os.path.join(out, f'{split}.txt')
        if os.path.isfile(split_file):
            os.remove(split_file)
    names = {split: [convert_frame(root, out, scene, frame, lookup)
                     for scene in scenes for frame in scene_frames(root, scene, frame_step)]
             for split, scenes in splits.items()}
    for split, split_names in names.items():
        write_split(out, split, split_names)
    return {split: len(split_names) for split, split_names in names.items()}


def main(argv=None):
    args = parse_args(argv)
    try:
        counts = convert(args.root, args.out, args.train_scenes, args.val_scenes, args.label_map, args.frame_step)
    except DataError as exc:
        sys.exit(f'error: {exc}')
    print(f'wrote ScanNet-v2 to {args.out}: ' + ', '.join(f'{s} {n} frames' for s, n in counts.items()))


if __name__ == '__main__':
    main()
