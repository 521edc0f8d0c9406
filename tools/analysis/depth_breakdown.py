"""How well a checkpoint segments near and far: mIoU / accuracy per depth range, and the worst images.

    python tools/analysis/depth_breakdown.py CONFIG CHECKPOINT --bins 1 2 3 4 [--scale 0.001]
        [--out depth.png] [--worst K [--worst-dir DIR]] [--cfg-options k=v ...] [--device auto|cpu|cuda]

--bins are the edges between the depth ranges (<1, 1-2, 2-3, 3-4, >=4), in the
data set's depth units (the raw values of the depth files: 0..255 for the
released NYUDepthv2/SUNRGBD depth, millimetres for raw 16-bit depth), or in
metres with --scale (metres per unit, e.g. 0.001 for millimetres). Pixels
whose depth is 0 (no measurement) form their own range, "missing". Prints the
table (pixels, share, aAcc, mIoU, mAcc per range), writes a bar plot with
--out, and with --worst K the K test images with the lowest mIoU as
RGB | depth | label | prediction panels (default folder <work_dir>/worst_images).
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint=True, work_dir=True)
    parser.add_argument('--use-ema', action='store_true', help='evaluate the EMA weights of the checkpoint')
    parser.add_argument('--bins', type=float, nargs='+', required=True,
                        help='increasing edges between the depth ranges (data set units, or metres with --scale)')
    parser.add_argument('--scale', type=float, help='metres per depth unit; the --bins are then in metres')
    parser.add_argument('--out', help='bar plot of mIoU and aAcc per depth range (.png, .pdf, .svg)')
    parser.add_argument('--worst', type=int, default=0, metavar='K',
                        help='write the K test images with the lowest mIoU as panels')
    parser.add_argument('--worst-dir', help='folder of the worst-image panels (default: <work_dir>/worst_images)')
    parser.add_argument('--title', default=None, help='plot title (default: the config name)')
    args = parser.parse_args(argv)
    if args.worst < 0:
        parser.error(f'--worst must be >= 0, got {args.worst}')
    return args


def plot_depth_breakdown(rows, out, title=None):
    """Bars of mIoU and aAcc per depth range, each range's share of the pixels written above it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    names = [row['name'] for row in rows]
    total = sum(row['pixels'] for row in rows) or 1
    positions = np.arange(len(rows))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(rows) + 2), 4))
    for offset, key, colour in ((-width / 2, 'mIoU', '#3b75af'), (width / 2, 'aAcc', '#ef8636')):
        values = [0.0 if np.isnan(row[key]) else row[key] for row in rows]
        ax.bar(positions + offset, values, width, label=key, color=colour)
    for position, row in zip(positions, rows):
        top = max([0.0] + [row[k] for k in ('mIoU', 'aAcc') if not np.isnan(row[k])])
        share = f'{100.0 * row["pixels"] / total:.1f}%' if row['pixels'] else 'no pixels'
        ax.text(position, top + 1.5, share, ha='center', fontsize=8)
    ax.set_xticks(positions)
    ax.set_xticklabels(names)
    ax.set_xlabel('depth range (share of the labelled pixels above the bars)')
    ax.set_ylabel('%')
    ax.set_ylim(0, 110)
    ax.legend(loc='lower right')
    if title:
        ax.set_title(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def run(args):
    cfg = cli.setup(args)
    hooks = []
    if args.worst:
        worst_dir = args.worst_dir or os.path.join(cfg.work_dir, 'worst_images')
        hooks.append(dict(type='WorstImagesHook', out_dir=worst_dir, k=args.worst))
    runner, _ = cli.evaluate_checkpoint(
        cfg, args, evaluator_options=dict(depth_bins=args.bins, depth_scale=args.scale), hooks=hooks)
    from dformer_seg.evaluation import depth_table

    rows = runner.test_loop.evaluator.results['depth']
    print(depth_table(rows))
    if args.out:
        title = args.title or os.path.splitext(os.path.basename(args.config))[0]
        plot_depth_breakdown(rows, args.out, title)
        runner.logger.info(f'depth breakdown plot written to {args.out}')
    return rows


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
