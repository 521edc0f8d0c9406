"""Evaluate a trained segmentor and write its predictions.

    python tools/test.py CONFIG CHECKPOINT [--out DIR] [--show-dir DIR] [--tta] [--use-ema]
                         [--work-dir DIR] [--cfg-options k=v ...] [--device auto|cpu|cuda] [--debug]
    python tools/test.py CONFIG CHECKPOINT --precision bf16       (mIoU in bf16 next to float32)
    python tools/test.py CONFIG CHECKPOINT --report DIR [--overwrite]   (one-page HTML evaluation report)
    python tools/test.py CONFIG CHECKPOINT --format-only --out results.json
    mpirun -np N python tools/test.py CONFIG CHECKPOINT ...   (or: tools/dist_test.sh CONFIG CHECKPOINT N)

Prints the per-class IoU/Acc table and aAcc/mIoU/mAcc/fwIoU. --out writes label
PNGs (class index per pixel), --show-dir colour overlays on the RGB images,
--format-only COCO-style run-length encoded masks (one record per image and
class) without computing metrics. --tta averages the scales and flips of the
config's tta_cfg. --precision bf16 runs the heavy ops in bf16 (CPUs with AVX512-BF16 or
AMX-BF16, docs/precision.md) and also evaluates float32 on the same data, logging both mIoUs. Under mpirun every process evaluates its shard of the test set and
the confusion matrices are summed (the metrics equal a single-process run's); only
rank 0 writes the log, and each process writes the --out/--show-dir files of its shard.
Errors in the input print one ``error: ...`` line (exit status 1); --debug shows the traceback.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint=True, work_dir=True)
    parser.add_argument('--out', help='folder for label PNGs; with --format-only, the results .json file')
    parser.add_argument('--show-dir', help='folder for colour overlays of the predictions')
    parser.add_argument('--opacity', type=float, default=0.5, help='overlay opacity (0..1)')
    parser.add_argument('--format-only', action='store_true',
                        help='only export predictions as RLE records to --out (no labels needed)')
    parser.add_argument('--tta', action='store_true', help="multi-scale + flip test (the config's tta_cfg)")
    parser.add_argument('--use-ema', action='store_true', help='evaluate the EMA weights of the checkpoint')
    parser.add_argument('--report', metavar='DIR', help='write the one-page HTML evaluation report to DIR')
    parser.add_argument('--overwrite', action='store_true', help='write the report into a folder that has files')
    parser.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32',
                        help='precision of the heavy ops (default fp32); bf16 also reports the fp32 mIoU')
    args = parser.parse_args(argv)
    if args.format_only and not (args.out and args.out.endswith('.json')):
        parser.error('--format-only needs --out FILE.json')
    if args.report and args.format_only:
        parser.error('--report needs the metrics; it cannot be combined with --format-only')
    return args


def check_outputs(args):
    """Refuse output paths of the wrong kind before anything runs."""
    from dformer_seg.config import ConfigError
    folders = [('--show-dir', args.show_dir)] + ([] if args.format_only else [('--out', args.out)])
    for option, path in folders:
        if path and os.path.exists(path) and not os.path.isdir(path):
            raise ConfigError(f'{option} {path} is an existing file; it must be a folder (new or existing)')
    if args.format_only and os.path.isdir(args.out):
        raise ConfigError(f'--out {args.out} is a folder; --format-only writes a .json file')


def main(argv=None):
    return cli.main(evaluate, parse_args(argv))


def evaluate(args):
    from dformer_seg.config import ConfigError
    check_outputs(args)
    cfg = cli.setup(args)
    if 'test_dataloader' not in cfg:
        raise ConfigError(f'{args.config} has no test_dataloader')
    cfg.model.pretrained = None  # the checkpoint holds every weight; no ImageNet file is read
    if args.tta:
        if not cfg.get('tta_cfg'):
            raise ConfigError(f'--tta needs tta_cfg (e.g. dict(scales=[0.75, 1.0, 1.25], flip=True)) in '
                              f'{args.config}')
        cfg.model.test_cfg = dict(cfg.model.get('test_cfg') or {}, aug=cfg.tta_cfg)
    if args.format_only:
        cfg.test_evaluator = None
    outputs = dict(json_file=args.out) if args.format_only else dict(out_dir=args.out)
    if args.show_dir:
        outputs['show_dir'] = args.show_dir
    if args.report:
        from dformer_seg.visualization.report_hook import ReportHook, report_depth_bins
        cfg.test_evaluator = dict(cfg.test_evaluator, **report_depth_bins(cfg))
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type=ReportHook, out_dir=args.report, checkpoint=args.checkpoint, overwrite=args.overwrite)]
    if any(outputs.values()):
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='SegOutputHook', opacity=args.opacity, **{k: v for k, v in outputs.items() if v})]

    from dformer_seg.engine import Runner
    from dformer_seg.ops.precision import check_precision, convert_model_precision, inference_precision

    check_precision(args.precision)
    runner = Runner.from_cfg(cfg)
    checkpoint = runner.load_checkpoint(args.checkpoint, strict=True, use_ema=args.use_ema)
    trained_on = checkpoint['meta'].get('CLASSES')
    classes = runner.test_loop.evaluator.class_names if runner.test_loop.evaluator else None
    if trained_on and classes and list(trained_on) != list(classes):
        runner.logger.warning(f'the checkpoint was trained on classes {trained_on}, the test set has {classes}')
    if args.precision == 'fp32':
        return runner.test()
    convert_model_precision(runner.model, args.precision)
    with inference_precision(args.precision):
        metrics = runner.test()
    if args.format_only:
        return metrics
    return compare_with_fp32(runner, metrics, args.precision)


class _WithoutHooks:
    """The runner as a loop sees it, with its hooks silent (the reference pass writes no output files)."""

    def __init__(self, runner):
        self._runner = runner

    def __getattr__(self, name):
        return getattr(self._runner, name)

    def call_hook(self, point, **kwargs):
        pass


def compare_with_fp32(runner, metrics, precision):
    """Evaluate the same weights and data in float32 and log the metrics of both precisions; returns the
    low-precision metrics with ``fp32_<name>`` added."""
    from dformer_seg.engine.loops import TestLoop

    loop = runner.test_loop
    reference = TestLoop(_WithoutHooks(runner), loop.dataloader, loop.evaluator).run()
    rows = [f'{name}: {precision} {metrics[name]:.2f}, fp32 {reference[name]:.2f}, '
            f'difference {metrics[name] - reference[name]:+.2f}' for name in metrics if name in reference]
    runner.logger.info(f'{precision} against fp32 on the same data:\n' + '\n'.join(rows))
    return dict(metrics, **{f'fp32_{name}': value for name, value in reference.items()})


if __name__ == '__main__':
    main()
