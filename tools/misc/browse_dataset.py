"""Write what the model sees: RGB | depth colour map | label overlay, after the data pipeline.

    python tools/misc/browse_dataset.py CONFIG [--split train] [--num 20] [--output-dir DIR]
        [--seed 0] [--cfg-options train_dataloader.dataset.data_root=data/my_set] [--debug]

The images are taken from the packed (normalized, augmented) samples and
mapped back to colours with the pipeline's own Normalize statistics, so
crops, flips, scales and padding appear exactly as in training. Label
overlay: each class in its palette colour; ignored pixels (void, padding) black.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def _to_uint8(array):
    import numpy as np

    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def render_panels(packed, normalize, palette, ignore_index=255, alpha=0.5):
    """One BGR image: RGB | depth colour map | label overlay of a packed sample."""
    import cv2
    import numpy as np

    img = packed['img'].transpose(1, 2, 0)
    img = _to_uint8(normalize.denormalize(img, 'img') if normalize is not None else img)
    if packed['img_metas'].get('color_order') == 'rgb':
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)

    depth = packed['depth'][0]
    depth = normalize.denormalize(depth[:, :, None], 'depth')[:, :, 0] if normalize is not None else depth
    depth_panel = cv2.applyColorMap(_to_uint8(depth), cv2.COLORMAP_TURBO)

    overlay = img.copy()
    if 'gt_seg' in packed:
        label = packed['gt_seg']
        if label.shape != img.shape[:2]:  # evaluation: labels stay at the original size
            label = cv2.resize(label.astype(np.int32), (img.shape[1], img.shape[0]),
                               interpolation=cv2.INTER_NEAREST)
        colours = np.zeros((max(len(palette), 1) + 1, 3), dtype=np.float32)
        colours[:len(palette)] = np.asarray(palette, dtype=np.float32)[:, ::-1]  # palette is RGB
        valid = (label >= 0) & (label < len(palette)) & (label != ignore_index)
        blended = (1 - alpha) * img.astype(np.float32) + alpha * colours[np.where(valid, label, len(palette))]
        overlay = np.where(valid[:, :, None], _to_uint8(blended), 0).astype(np.uint8)
    return np.hstack([img, depth_panel, overlay])


def browse(cfg, split='train', num=20, output_dir=None, seed=0, alpha=0.5):
    """Write ``num`` panels of the ``split`` data loader's data set; return their paths."""
    from dformer_seg.config import ConfigError
    from dformer_seg.datasets import build_dataset
    from dformer_seg.datasets.io import write_image_file
    from dformer_seg.datasets.pipelines import Normalize, sample_rng, using_rng

    key = f'{split}_dataloader'
    if key not in cfg:
        raise ConfigError(f'the config has no {key}')
    dataset = build_dataset(cfg[key]['dataset'])
    normalize = dataset.pipeline.find(Normalize)
    meta = dataset.metainfo
    paths = []
    for index in range(min(num, len(dataset))):
        with using_rng(sample_rng(seed, 0, index)):
            packed = dataset[index]
        panels = render_panels(packed, normalize, meta['palette'], meta['ignore_index'], alpha)
        name = os.path.splitext(os.path.basename(packed['img_metas']['img_path']))[0]
        path = os.path.join(output_dir, f'{index:04d}_{name}.png')
        write_image_file(path, panels)
        paths.append(path)
    return paths


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, device='cpu')
    parser.add_argument('--split', default='train', choices=('train', 'val', 'test'),
                        help='which data loader of the config to browse (default: train)')
    parser.add_argument('--num', type=int, default=20, help='number of samples (default: 20)')
    parser.add_argument('--output-dir', help='folder for the images (default: work_dirs/browse/<config name>)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random augmentations (default: 0)')
    parser.add_argument('--alpha', type=float, default=0.5, help='label overlay opacity (default: 0.5)')
    return parser.parse_args(argv)


def run(args):
    cfg = cli.setup(args)
    output_dir = args.output_dir or os.path.join(
        'work_dirs', 'browse', os.path.splitext(os.path.basename(args.config))[0])
    paths = browse(cfg, args.split, args.num, output_dir, args.seed, args.alpha)
    print(f'wrote {len(paths)} images (RGB | depth | label) to {output_dir}')
    return paths


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
