"""Curves and training time from the JSON logs that tools/train.py writes (``<work_dir>/<timestamp>.log.json``).

    python tools/analysis/analyze_logs.py plot_curve LOG.json [LOG2.json ...] --keys loss mIoU
        [--legend run1 run2] [--title T] [--out curve.png]
    python tools/analysis/analyze_logs.py cal_train_time LOG.json [LOG2.json ...] [--include-outliers]
    (--debug before the command shows the traceback of errors)

Each line of a log is one JSON record: ``mode`` 'train' (every logger interval:
``iter``, ``epoch``, ``lr``, ``time``, ``data_time``, ``memory`` and the losses
such as ``decode.loss_ce`` and ``loss``, averaged over the interval) or 'val'
(after each validation: ``iter``, ``epoch`` and the metrics such as ``mIoU``).
plot_curve draws one panel per key against the training iteration, one line
per log; a key may be given without its head prefix (``loss_ce`` finds
``decode.loss_ce``). cal_train_time prints the mean time per iteration and
the slowest/fastest epoch of each log.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)


class LogError(cli.ToolError, KeyError, ValueError):
    """A log that cannot be read, or a key or option that does not fit it."""

    __str__ = cli.ToolError.__str__  # not KeyError's quoted form


def load_log(path):
    """The records of a JSON log, in file order."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'log file not found: {path}')
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise LogError(f'{path}:{number} is not a JSON record ({error})') from error
            if not isinstance(record, dict) or 'mode' not in record:
                raise LogError(f'{path}:{number} is not a dformer_seg log record (no "mode")')
            records.append(record)
    if not records:
        raise LogError(f'{path} holds no record')
    return records


def resolve_key(records, key, path):
    """The logged name of ``key``: itself, or the one logged name ending in ``.key`` (``loss_ce``)."""
    names = {name for record in records for name in record}
    if key in names:
        return key
    matches = sorted(name for name in names if name.endswith('.' + key))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise LogError(f'{key!r} is ambiguous in {path}: {matches}')
    logged = sorted(names - {'mode', 'epoch', 'iter'})
    raise LogError(f'{path} has no {key!r}; it logs {logged}')


def series(records, key):
    """``(iterations, values)`` of every record that holds ``key``."""
    points = [(record['iter'], record[key]) for record in records
              if key in record and isinstance(record[key], (int, float))]
    if not points:
        return np.zeros(0), np.zeros(0)
    iters, values = zip(*points)
    return np.asarray(iters), np.asarray(values, dtype=np.float64)


def plot_curve(paths, keys, legend=None, title=None, out=None):
    """One panel per key, one line per log; writes ``out`` (or shows nothing and returns the figure)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    legend = legend or [os.path.splitext(os.path.splitext(os.path.basename(p))[0])[0] for p in paths]
    if len(legend) != len(paths):
        raise LogError(f'--legend needs one name per log: {len(paths)} logs, {len(legend)} names')
    logs = [load_log(path) for path in paths]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.6 * len(keys) + 0.4), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        for records, name, path in zip(logs, legend, paths):
            logged = resolve_key(records, key, path)
            iters, values = series(records, logged)
            marker = 'o' if len(iters) <= 20 else None  # sparse series (validations): show the points
            ax.plot(iters, values, marker=marker, markersize=4, label=name)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel('iteration')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        fig.savefig(out, dpi=100)
        print(f'curves written to {out}')
    plt.close(fig)


def train_time(records, include_outliers=False):
    """Per-epoch mean iteration time of the training records and their summary.

    The first training record is left out unless ``include_outliers``: it
    holds the first iterations, which include Jittor's kernel compilation.
    """
    train = [record for record in records if record.get('mode') == 'train' and 'time' in record]
    if not include_outliers:
        train = train[1:]
    if not train:
        raise LogError('the log has no training record with a "time" (besides the first one; '
                         'use --include-outliers)')
    by_epoch = {}
    for record in train:
        by_epoch.setdefault(record['epoch'], []).append(record['time'])
    means = {epoch: float(np.mean(times)) for epoch, times in by_epoch.items()}
    slowest = max(means, key=means.get)
    fastest = min(means, key=means.get)
    return dict(epoch_means=means, slowest=(slowest, means[slowest]), fastest=(fastest, means[fastest]),
                std=float(np.std(list(means.values()))), mean=float(np.mean([r['time'] for r in train])))


def cal_train_time(paths, include_outliers=False):
    results = []
    for path in paths:
        summary = train_time(load_log(path), include_outliers)
        print(f'{"-" * 5}Analyze train time of {path}{"-" * 5}')
        print(f'slowest epoch {summary["slowest"][0]}, average time is {summary["slowest"][1]:.4f} s/iter')
        print(f'fastest epoch {summary["fastest"][0]}, average time is {summary["fastest"][1]:.4f} s/iter')
        print(f'time std over epochs is {summary["std"]:.4f}')
        print(f'average iter time: {summary["mean"]:.4f} s/iter')
        results.append(summary)
    return results


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, config=False, device=False)
    commands = parser.add_subparsers(dest='task', required=True)
    curve = commands.add_parser('plot_curve', help='plot logged values against the iteration')
    curve.add_argument('json_logs', nargs='+', help='<timestamp>.log.json files')
    curve.add_argument('--keys', nargs='+', default=['loss'], help='logged values to plot (default: loss)')
    curve.add_argument('--legend', nargs='+', help='one name per log (default: the file names)')
    curve.add_argument('--title', help='figure title')
    curve.add_argument('--out', required=True, help='the image to write (.png, .pdf, .svg)')
    timing = commands.add_parser('cal_train_time', help='time per iteration, per epoch')
    timing.add_argument('json_logs', nargs='+', help='<timestamp>.log.json files')
    timing.add_argument('--include-outliers', action='store_true',
                        help='keep the first logged interval (Jittor compiles its kernels there)')
    return parser.parse_args(argv)


def run(args):
    cli.setup(args)
    if args.task == 'plot_curve':
        return plot_curve(args.json_logs, args.keys, args.legend, args.title, args.out)
    return cal_train_time(args.json_logs, args.include_outliers)


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
