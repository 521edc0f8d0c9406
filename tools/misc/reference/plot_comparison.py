"""Figure and table of a training comparison written by run_comparison.py.

The figure shows, per arm, the mean mIoU over seeds at every evaluation point with the range (min to
max) shaded, and the mean training loss per epoch. The table gives the final mIoU of every arm (mean,
standard deviation, every seed) and, for every arm against the official code, the difference of means
with a 95 % bootstrap confidence interval and the p-value of an exact two-sided permutation test.

    python tools/misc/reference/plot_comparison.py docs/data/training_comparison/demo_tiny.json \
        --figure docs/images/training_comparison_demo_tiny.png
"""
import argparse
import itertools
import json
import sys

import numpy as np

LABELS = {'official': 'official (PyTorch)', 'ours': 'ours (Jittor)',
          'ours-official-groups': 'ours, official optimizer groups'}
COLORS = {'official': 'tab:blue', 'ours': 'tab:orange', 'ours-official-groups': 'tab:green'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Figure and table of a training comparison')
    p.add_argument('results', help='JSON written by run_comparison.py')
    p.add_argument('--figure', help='PNG to write')
    p.add_argument('--title', default=None)
    p.add_argument('--bootstrap', type=int, default=10000, help='bootstrap resamples (default: 10000)')
    return p.parse_args(argv)


def by_arm(runs):
    arms = {}
    for run in runs:
        arms.setdefault(run['framework'], []).append(run)
    for runs_of_arm in arms.values():
        runs_of_arm.sort(key=lambda run: run['seed'])
    return arms


def final_miou(runs):
    return np.array([run['evals'][-1]['mIoU'] for run in runs], dtype=np.float64)


def bootstrap_ci(a, b, resamples, level=0.95, seed=0):
    """Percentile bootstrap interval of mean(a) - mean(b), each group resampled on its own."""
    rng = np.random.default_rng(seed)
    diffs = (rng.choice(a, (resamples, len(a))).mean(1) - rng.choice(b, (resamples, len(b))).mean(1))
    tail = (1.0 - level) / 2.0 * 100.0
    return np.percentile(diffs, [tail, 100.0 - tail])


def permutation_p(a, b):
    """Exact two-sided permutation test of the difference of means (every split of the pooled values)."""
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    total = pooled.sum()
    count = extreme = 0
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        mean_a = pooled[list(idx)].mean()
        mean_b = (total - pooled[list(idx)].sum()) / len(b)
        extreme += abs(mean_a - mean_b) >= observed - 1e-9
        count += 1
    return extreme / count


def table(arms, resamples):
    lines = ['| arm | runs | final mIoU mean | std | per seed (seed: mIoU) |', '|---|---:|---:|---:|---|']
    for arm, runs in arms.items():
        values = final_miou(runs)
        std = values.std(ddof=1) if len(values) > 1 else float('nan')
        seeds = ', '.join(f'{run["seed"]}: {v:.2f}' for run, v in zip(runs, values))
        lines.append(f'| {LABELS.get(arm, arm)} | {len(values)} | {values.mean():.2f} | {std:.2f} | {seeds} |')
    if 'official' in arms:
        reference = final_miou(arms['official'])
        lines += ['', '| arm - official | difference of means | 95 % bootstrap CI | permutation p |',
                  '|---|---:|---:|---:|']
        for arm, runs in arms.items():
            if arm == 'official':
                continue
            values = final_miou(runs)
            low, high = bootstrap_ci(values, reference, resamples)
            lines.append(f'| {LABELS.get(arm, arm)} | {values.mean() - reference.mean():+.2f} | '
                         f'[{low:+.2f}, {high:+.2f}] | {permutation_p(values, reference):.3f} |')
    return '\n'.join(lines)


def figure(arms, iters_per_epoch, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax_miou, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, runs in arms.items():
        color, label = COLORS.get(arm), f'{LABELS.get(arm, arm)} ({len(runs)} seeds)'
        epochs = np.array([e['epoch'] for e in runs[0]['evals']])
        miou = np.array([[e['mIoU'] for e in run['evals']] for run in runs])
        ax_miou.plot(epochs, miou.mean(0), marker='o', color=color, label=label)
        ax_miou.fill_between(epochs, miou.min(0), miou.max(0), color=color, alpha=0.2)
        losses = np.array([run['losses'] for run in runs])
        per_epoch = losses.reshape(len(runs), -1, iters_per_epoch).mean(2)
        x = np.arange(1, per_epoch.shape[1] + 1)
        ax_loss.plot(x, per_epoch.mean(0), marker='o', color=color, label=label)
        ax_loss.fill_between(x, per_epoch.min(0), per_epoch.max(0), color=color, alpha=0.2)
    ax_miou.set(xlabel='epoch', ylabel='test mIoU (%)', title='mIoU: mean and range over seeds')
    ax_loss.set(xlabel='epoch', ylabel='training loss (epoch mean)', title='loss: mean and range over seeds')
    for ax in (ax_miou, ax_loss):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_miou.legend(loc='lower right')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    args = parse_args(argv)
    with open(args.results) as f:
        result = json.load(f)
    arms = by_arm(result['runs'])
    counts = {len(run['losses']) for runs in arms.values() for run in runs}
    if len(counts) != 1:
        sys.exit(f'error: runs of different lengths in {args.results}: {sorted(counts)} iterations')
    iters_per_epoch = counts.pop() // result['recipe']['epochs']
    print(table(arms, args.bootstrap))
    if args.figure:
        figure(arms, iters_per_epoch, args.figure, args.title)


if __name__ == '__main__':
    main()
