"""Generate the synthetic RGB-D classification set of the pretraining demo (ImageNet folder layout).

    python tools/dataset_converters/generate_demo_cls.py --out data/demo_cls --seed 0 \
        [--num-train 150 --num-val 50 --size 64 64]

Six classes (box / ball / cylinder, each small or large) of object-centred views rendered like the
segmentation demo (dformer_seg/datasets/demo_cls.py); the object's size shows in the depth map, not
in its extent in the picture. Writes images/{train,val}/<class>/*.jpg and depth/{train,val}/<class>/*.png.
configs/_base_/datasets/demo_cls.py reads data/demo_cls.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg.datasets.demo_cls import generate_demo_cls_dataset  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate the synthetic RGB-D classification demo set')
    parser.add_argument('--out', default='data/demo_cls', help='output folder (default: data/demo_cls)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    parser.add_argument('--num-train', type=int, default=150, help='training views per class (default: 150)')
    parser.add_argument('--num-val', type=int, default=50, help='validation views per class (default: 50)')
    parser.add_argument('--size', type=int, nargs=2, default=(64, 64), metavar=('H', 'W'),
                        help='image height and width (default: 64 64)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = generate_demo_cls_dataset(args.out, seed=args.seed, num_train_per_class=args.num_train,
                                            num_val_per_class=args.num_val, size=tuple(args.size))
    except ValueError as exc:
        sys.exit(f'error: {exc}')
    classes = summary['classes']
    print(f'wrote {summary["num_train_per_class"] * len(classes)} training and '
          f'{summary["num_val_per_class"] * len(classes)} validation views of {summary["size"][0]}x'
          f'{summary["size"][1]} ({len(classes)} classes: {", ".join(classes)}) to {args.out} in '
          f'{summary["seconds"]:.1f} s')


if __name__ == '__main__':
    main()
