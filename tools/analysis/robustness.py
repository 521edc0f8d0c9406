"""How a checkpoint holds up on a real sensor: mIoU under depth and RGB corruptions at five severities.

    python tools/analysis/robustness.py CONFIG CHECKPOINT [--corruptions NAME ...] [--severities 1 2 3 4 5]
        [--seed 0] [--depth-max-m 10] [--tta] [--out DIR] [--report DIR [--overwrite]] [--use-ema]
        [--work-dir DIR] [--cfg-options k=v ...] [--device auto|cpu|cuda] [--debug]
    mpirun -np N python tools/analysis/robustness.py CONFIG CHECKPOINT ...

Evaluates the config's test set clean, then once per corruption and severity, with the corruption applied to
every test image right after loading (``Corrupt``, see dformer_seg/datasets/pipelines/corruptions.py and
docs/robustness.md). Each pass is the runner's test loop, so the config's inference mode (whole image or
sliding window), --tta and MPI sharding work as in tools/test.py. --corruptions takes names (default: all),
'depth' or 'rgb' for every corruption of one modality, and combinations joined by '+' (e.g.
depth_noise+rgb_noise). The corruptions are seeded by --seed and each image's pixels: two runs give the same
numbers. --depth-max-m is the depth that the loaded map's 255 stands for (10 m: the demo set, and 16-bit
millimetres with LoadDepthFromFile's default raw_depth_range).

Writes the table (mIoU per corruption and severity, the mean over the severities, and that mean relative to
the clean mIoU) to the log and to DIR/robustness.json and DIR/robustness.csv, and the curves (mIoU against
severity) to DIR/robustness.png (default DIR: <work_dir>/robustness). --report DIR also writes the one-page
HTML evaluation report of the clean pass with the robustness curves (a folder that exists and is not empty
is refused unless --overwrite).
"""
import copy
import csv
import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)

MODALITY_GROUPS = ('depth', 'rgb')
SEVERITIES = (1, 2, 3, 4, 5)  # those of dformer_seg.datasets.pipelines.corruptions (not imported before the set-up)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint=True, work_dir=True)
    parser.add_argument('--use-ema', action='store_true', help='evaluate the EMA weights of the checkpoint')
    parser.add_argument('--corruptions', nargs='+', default=['all'], metavar='NAME',
                        help="corruption names, 'depth', 'rgb' or 'all' (default), or 'a+b' for several at once")
    parser.add_argument('--severities', nargs='+', type=int, default=list(SEVERITIES), metavar='S',
                        help='severities from 1 (mild) to 5 (severe) (default: all five)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the corruptions (default 0)')
    parser.add_argument('--depth-max-m', type=float, default=10.0,
                        help="metres that the loaded depth map's 255 stands for (default 10)")
    parser.add_argument('--tta', action='store_true', help="multi-scale + flip test (the config's tta_cfg)")
    parser.add_argument('--out', help='folder of robustness.json/.csv/.png (default: <work_dir>/robustness)')
    parser.add_argument('--report', metavar='DIR', help='also write the HTML evaluation report to this folder')
    parser.add_argument('--overwrite', action='store_true', help='write the report into a folder that has files')
    args = parser.parse_args(argv)
    bad = [s for s in args.severities if s not in SEVERITIES]
    if bad:
        parser.error(f'--severities must be from {SEVERITIES[0]} to {SEVERITIES[-1]}, got {bad}')
    if len(set(args.severities)) != len(args.severities):
        parser.error(f'--severities has repeats: {args.severities}')
    args.severities = sorted(args.severities)
    if args.report and args.out and os.path.abspath(args.report) == os.path.abspath(args.out):
        parser.error('--report and --out must be different folders (the report folder holds only the report)')
    if not args.depth_max_m > 0:
        parser.error(f'--depth-max-m must be positive, got {args.depth_max_m}')
    try:
        args.corruptions = expand_corruptions(args.corruptions)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def expand_corruptions(requested):
    """Corruption names (``a+b`` for several at once) from names and the words 'all', 'depth', 'rgb'."""
    from dformer_seg.datasets.pipelines.corruptions import CORRUPTIONS, corruption_names
    expanded = []
    for item in requested:
        if item == 'all':
            names = list(CORRUPTIONS)
        elif item in MODALITY_GROUPS:
            names = [name for name, c in CORRUPTIONS.items() if c.modality == item]
        else:
            names = ['+'.join(corruption_names(item))]
        expanded += [name for name in names if name not in expanded]
    return expanded


def modality_of(corruption):
    from dformer_seg.datasets.pipelines.corruptions import CORRUPTIONS
    kinds = {CORRUPTIONS[name].modality for name in corruption.split('+')}
    return kinds.pop() if len(kinds) == 1 else 'both'


def corrupted_pipeline(cfg, corruption, severity, args):
    from dformer_seg.config import ConfigError
    from dformer_seg.datasets.pipelines import with_corruption
    pipeline = cfg.to_dict()['test_dataloader']['dataset']['pipeline']
    try:
        return with_corruption(pipeline, corruption, severity, seed=args.seed, depth_max_m=args.depth_max_m)
    except ValueError as exc:
        raise ConfigError(f'{args.config}: test pipeline: {exc}') from None


def evaluate_corrupted(runner, corruption, severity, args):
    """The metrics of one test pass with ``corruption`` at ``severity``: the runner's test loop over a loader
    whose pipeline has the corruption (same model, seed, MPI sharding and inference mode)."""
    from dformer_seg.datasets.builder import build_dataloader
    from dformer_seg.engine.runner import dataset_meta
    from dformer_seg.registry import LOOPS, METRICS

    cfg = runner.cfg
    loader_cfg = copy.deepcopy(cfg.to_dict()['test_dataloader'])
    loader_cfg['dataset']['pipeline'] = corrupted_pipeline(cfg, corruption, severity, args)
    loader = build_dataloader(loader_cfg, seed=runner.seed)
    # The depth ranges of a report concern the clean pass only.
    evaluator_cfg = {k: v for k, v in cfg.to_dict()['test_evaluator'].items() if k not in ('depth_bins', 'depth_scale')}
    evaluator = METRICS.build(evaluator_cfg, class_names=dataset_meta(loader).get('classes'))
    loop = LOOPS.build(dict(cfg.get('test_loop') or dict(type='TestLoop')), runner=runner, dataloader=loader,
                       evaluator=evaluator)
    runner.logger.info(f'corruption {corruption}, severity {severity}')
    return loop.run()


def robustness_table(clean, scores, severities, metric='mIoU'):
    """``dict(metric, clean, severities, corruptions={name: dict(modality, scores, mean, relative)})`` from the
    clean score and ``scores[(corruption, severity)]``; ``relative`` is the mean over the severities / clean."""
    corruptions = {}
    for name in dict.fromkeys(name for name, _ in scores):
        values = [float(scores[(name, s)]) for s in severities]
        mean = sum(values) / len(values)
        corruptions[name] = dict(modality=modality_of(name), scores=values, mean=mean,
                                 relative=mean / clean if clean else float('nan'))
    return dict(metric=metric, clean=float(clean), severities=list(severities), corruptions=corruptions)


def format_table(table):
    from terminaltables import AsciiTable
    severities = table['severities']
    rows = [['corruption', 'modality'] + [f'sev {s}' for s in severities] + ['mean', 'of clean'],
            ['clean', ''] + [''] * len(severities) + [f'{table["clean"]:.2f}', '100.0%']]
    for name, entry in table['corruptions'].items():
        rows.append([name, entry['modality']] + [f'{v:.2f}' for v in entry['scores']]
                    + [f'{entry["mean"]:.2f}', f'{100.0 * entry["relative"]:.1f}%'])
    return AsciiTable(rows).table


def write_outputs(table, out_dir, info):
    """robustness.json (the table and the run), robustness.csv and robustness.png in ``out_dir``."""
    from dformer_seg.visualization.report import plot_robustness
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'robustness.json'), 'w', encoding='utf-8') as f:
        json.dump(dict(table, run=info), f, indent=2)
    with open(os.path.join(out_dir, 'robustness.csv'), 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(['corruption', 'modality'] + [f'severity_{s}' for s in table['severities']]
                        + ['mean', 'relative_to_clean'])
        writer.writerow(['clean', ''] + [''] * len(table['severities']) + [f'{table["clean"]:.4f}', '1.0000'])
        for name, entry in table['corruptions'].items():
            writer.writerow([name, entry['modality']] + [f'{v:.4f}' for v in entry['scores']]
                            + [f'{entry["mean"]:.4f}', f'{entry["relative"]:.4f}'])
    plot_robustness(table, os.path.join(out_dir, 'robustness.png'))


def main(argv=None):
    return cli.main(run, parse_args(argv))


def run(args):
    from dformer_seg.config import ConfigError
    cfg = cli.setup(args)
    for corruption in args.corruptions:  # a pipeline that cannot take a corruption stops before any pass
        corrupted_pipeline(cfg, corruption, args.severities[0], args)
    if args.tta:
        if not cfg.get('tta_cfg'):
            raise ConfigError(f'--tta needs tta_cfg (e.g. dict(scales=[0.75, 1.0, 1.25], flip=True)) in {args.config}')
        cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {}, aug=cfg.tta_cfg)
    out_dir = args.out or os.path.join(cfg.work_dir, 'robustness')
    hooks, evaluator_options = [], {}
    if args.report:
        from dformer_seg.visualization.report_hook import ReportHook, report_depth_bins
        evaluator_options = report_depth_bins(cfg, args.depth_max_m)
        hooks.append(dict(type=ReportHook, out_dir=args.report, checkpoint=args.checkpoint, overwrite=args.overwrite,
                          write_on_test_end=False, title='Robustness report'))

    runner, clean = cli.evaluate_checkpoint(cfg, args, evaluator_options=evaluator_options, hooks=hooks)
    scores = {}
    for corruption in args.corruptions:
        for severity in args.severities:
            metrics = evaluate_corrupted(runner, corruption, severity, args)
            scores[(corruption, severity)] = metrics['mIoU']
            runner.logger.info(f'{corruption} severity {severity}: mIoU {metrics["mIoU"]:.2f} '
                               f'(clean {clean["mIoU"]:.2f})')
    table = robustness_table(clean['mIoU'], scores, args.severities)
    runner.logger.info(f'robustness (mIoU, seed {args.seed}):\n{format_table(table)}')

    from dformer_seg.utils.dist import is_main_process
    if is_main_process():
        info = dict(config=args.config, checkpoint=args.checkpoint, seed=args.seed, depth_max_m=args.depth_max_m,
                    tta=args.tta)
        write_outputs(table, out_dir, info)
        runner.logger.info(f'robustness table and curves written to {out_dir}')
    if args.report:
        runner.get_hook('ReportHook').write(runner, robustness=table)
    return table


if __name__ == '__main__':
    main()
