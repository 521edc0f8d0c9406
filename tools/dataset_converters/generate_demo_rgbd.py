"""Generate the built-in synthetic RGB-D segmentation set in the official NYUDepthv2 layout.

    python tools/dataset_converters/generate_demo_rgbd.py --out data/demo_rgbd --seed 0 \
        [--num-train 240 --num-test 60 --size 120 160]

Rooms with boxes, balls and cylinders, rendered with a perspective camera and
a depth buffer (see dformer_seg/datasets/demo.py). The same seed always gives
the same files. configs/_base_/datasets/demo_rgbd.py reads data/demo_rgbd.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg.datasets.demo import generate_demo_dataset  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate the synthetic RGB-D demo data set')
    parser.add_argument('--out', default='data/demo_rgbd', help='output folder (default: data/demo_rgbd)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--num-train', type=int, default=240, help='training images (default: 240)')
    parser.add_argument('--num-test', type=int, default=60, help='test images (default: 60)')
    parser.add_argument('--size', type=int, nargs=2, default=(120, 160), metavar=('H', 'W'),
                        help='image height and width (default: 120 160)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = generate_demo_dataset(args.out, seed=args.seed, num_train=args.num_train,
                                        num_test=args.num_test, size=tuple(args.size))
    except ValueError as exc:
        sys.exit(f'error: {exc}')
    print(f'wrote {summary["num_train"]} training and {summary["num_test"]} test samples of '
          f'{summary["size"][0]}x{summary["size"][1]} ({len(summary["classes"])} classes: '
          f'{", ".join(summary["classes"])}) to {args.out} in {summary["seconds"]:.1f} s')


if __name__ == '__main__':
    main()
