"""Encode metric depth maps as HHA images (horizontal disparity, height above ground, angle with gravity).

    python tools/dataset_converters/depth2hha.py DEPTH OUT --intrinsics K.txt [--depth-scale 1000]
    python tools/dataset_converters/depth2hha.py data/my_set/Depth data/my_set/HHA --intrinsics 518.9 519.5 325.6 253.7

DEPTH is one depth file or a folder of them (16-bit PNG in 1/--depth-scale metres, 0 = no measurement;
32-bit float TIFF / OpenEXR / .npy in metres); OUT is the output file or folder (PNG, same stems).
--intrinsics is a text file with a 3x3 camera matrix (3x4 / 4x4 with the matrix top-left, as ScanNet's
intrinsic_depth.txt), 4 numbers fx fy cx cy, a JSON file with "camera_k_matrix" (Stanford-2D-3D-S pose
files), or the 4 numbers themselves. Gravity is estimated from each depth map (Gupta et al. 2014); the
encoding is that of the released HHA images (see dformer_seg/datasets/hha.py). Read the output with
LoadDepthFromFile(color_type='color', color_order='rgb').
"""
import argparse
import os
import sys
from multiprocessing import Pool

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

import numpy as np  # noqa: E402

from dformer_seg.datasets.errors import DataError  # noqa: E402
from dformer_seg.datasets.hha import depth_to_hha, parse_intrinsics, read_intrinsics  # noqa: E402
from dformer_seg.datasets.io import READ_GRAYSCALE_ANY_DEPTH, read_depth_file, write_image_file  # noqa: E402

DEPTH_EXTENSIONS = ('.png', '.tif', '.tiff', '.exr', '.npy')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Depth maps -> HHA images')
    parser.add_argument('depth', help='a depth file or a folder of depth files')
    parser.add_argument('out', help='the HHA file (for one depth file) or folder')
    parser.add_argument('--intrinsics', nargs='+', required=True,
                        help='camera matrix file (.txt/.json) or the 4 numbers fx fy cx cy')
    parser.add_argument('--depth-scale', type=float, default=1000.0,
                        help='units per metre of 16-bit files (1000: millimetres; Stanford-2D-3D-S: 512)')
    parser.add_argument('--window', type=int, default=7, help='normal estimation window in pixels (odd, >= 3)')
    parser.add_argument('--workers', type=int, default=1, help='processes (default 1)')
    args = parser.parse_args(argv)
    if args.depth_scale <= 0:
        parser.error(f'--depth-scale must be positive, got {args.depth_scale}')
    if args.window < 3 or args.window % 2 == 0:
        parser.error(f'--window must be odd and at least 3, got {args.window}')
    return args


def load_intrinsics(values):
    if len(values) == 1:
        return read_intrinsics(values[0])
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        raise DataError(f'--intrinsics: give one file or 4 numbers fx fy cx cy, got {" ".join(values)}') from None
    return parse_intrinsics(numbers, '--intrinsics')


def metric_depth(path, depth_scale):
    """The depth of ``path`` in metres (0 = missing)."""
    raw = read_depth_file(path, READ_GRAYSCALE_ANY_DEPTH, 'depth')
    if raw.dtype == np.uint16:
        return raw.astype(np.float64) / depth_scale
    if raw.dtype.kind == 'f':
        return raw.astype(np.float64)
    raise DataError(f'depth file {path} has pixel type {raw.dtype}; HHA needs metric depth (16-bit in '
                    f'1/--depth-scale metres, or float metres), not an 8-bit visualisation')


def list_jobs(depth, out):
    if os.path.isfile(depth):
        target = out if os.path.splitext(out)[1] else os.path.join(out, os.path.splitext(os.path.basename(depth))[0])
        return [(depth, os.path.splitext(target)[0] + '.png')]
    if not os.path.isdir(depth):
        raise DataError(f'depth path not found: {depth}')
    names = sorted(n for n in os.listdir(depth) if os.path.splitext(n)[1].lower() in DEPTH_EXTENSIONS)
    if not names:
        raise DataError(f'no depth files ({", ".join(DEPTH_EXTENSIONS)}) in {depth}')
    return [(os.path.join(depth, n), os.path.join(out, os.path.splitext(n)[0] + '.png')) for n in names]


def convert_one(job):
    source, target, intrinsics, depth_scale, window = job
    hha, _ = depth_to_hha(metric_depth(source, depth_scale), intrinsics, window=window,
                          source=f'depth file {source}')
    write_image_file(target, hha[:, :, ::-1])  # OpenCV writes BGR: the file holds R, G, B = H, H, A
    return target


def main(argv=None):
    args = parse_args(argv)
    try:
        intrinsics = load_intrinsics(args.intrinsics)
        jobs = [(s, t, intrinsics, args.depth_scale, args.window) for s, t in list_jobs(args.depth, args.out)]
        if args.workers > 1:
            with Pool(args.workers) as pool:
                written = pool.map(convert_one, jobs)
        else:
            written = [convert_one(job) for job in jobs]
    except DataError as exc:
        sys.exit(f'error: {exc}')
    print(f'wrote {len(written)} HHA image(s) to {args.out}')


if __name__ == '__main__':
    main()
