"""Plot the confusion matrix of a checkpoint on the config's test set.

    python tools/analysis/confusion_matrix.py CONFIG CHECKPOINT --out cm.png [--normalize] [--show-dir DIR]
                                              [--title T] [--cfg-options k=v ...] [--device auto|cpu|cuda]

Rows are the labelled classes, columns the predicted ones; the cells count
pixels (with --normalize: percent of the row, i.e. of the pixels labelled with
that class). The matrix is the one IoUMetric accumulates for mIoU, so the
diagonal agrees with the per-class table that is printed. --show-dir also
writes colour overlays of the predictions, as tools/test.py does.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint=True, work_dir=True)
    parser.add_argument('--use-ema', action='store_true', help='evaluate the EMA weights of the checkpoint')
    parser.add_argument('--out', required=True, help='the image to write (.png, .pdf, .svg)')
    parser.add_argument('--normalize', action='store_true', help='percent of each row instead of pixel counts')
    parser.add_argument('--show-dir', help='also write colour overlays of the predictions to this folder')
    parser.add_argument('--title', default=None, help='figure title (default: the config name)')
    return parser.parse_args(argv)


def normalized_rows(matrix):
    """Each row in percent of its sum (rows of classes never labelled stay 0)."""
    import numpy as np

    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(100.0 * matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def plot_confusion_matrix(matrix, class_names, out, normalize=False, title=None):
    """Write the matrix as a heat map with the class names on both axes and a colour bar."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.asarray(matrix)
    num_classes = len(class_names)
    if matrix.shape != (num_classes, num_classes):
        raise ValueError(f'a confusion matrix of {num_classes} classes must be {num_classes}x{num_classes}, '
                         f'got {matrix.shape}')
    shown = normalized_rows(matrix) if normalize else matrix.astype(np.float64)
    size = max(5.0, 0.45 * num_classes + 3.0)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    image = ax.imshow(shown, cmap='Blues', vmin=0, vmax=100 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label='% of the labelled pixels' if normalize else 'pixels')
    ax.set_xticks(range(num_classes))
    ax.set_yticks(range(num_classes))
    ax.set_xticklabels(class_names, rotation=45, ha='right', rotation_mode='anchor')
    ax.set_yticklabels(class_names)
    ax.set_xlabel('prediction')
    ax.set_ylabel('label')
    if num_classes <= 20:  # numbers stay legible up to about 20 classes
        threshold = shown.max() / 2 if shown.max() > 0 else 1
        for row in range(num_classes):
            for column in range(num_classes):
                text = f'{shown[row, column]:.1f}' if normalize else f'{int(matrix[row, column])}'
                ax.text(column, row, text, ha='center', va='center', fontsize=7,
                        color='white' if shown[row, column] > threshold else 'black')
    if title:
        ax.set_title(title)
    fig.tight_layout()
    folder = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return shown


def run(args):
    cfg = cli.setup(args)
    hooks = [dict(type='SegOutputHook', show_dir=args.show_dir)] if args.show_dir else []
    runner, _ = cli.evaluate_checkpoint(cfg, args, hooks=hooks)
    evaluator = runner.test_loop.evaluator
    title = args.title or os.path.splitext(os.path.basename(args.config))[0]
    plot_confusion_matrix(evaluator.results['matrix'], evaluator.class_names, args.out, args.normalize,
                          f'{title}  (mIoU {evaluator.results["summary"]["mIoU"]:.2f})')
    runner.logger.info(f'confusion matrix written to {args.out}')
    return evaluator.results['matrix']


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
