"""What the analysis tools that evaluate a checkpoint share: the command-line arguments, and
config + checkpoint -> a Runner that has run the test set (the evaluator keeps its results)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from train import DEVICE_CHOICES, load_config, select_device  # noqa: E402  (tools/train.py)

__all__ = ['add_evaluation_arguments', 'evaluate_checkpoint', 'load_config', 'select_device']


def add_evaluation_arguments(parser):
    from dformer_seg.config import DictAction

    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file (.pkl from tools/train.py, or an official .pth)')
    parser.add_argument('--use-ema', action='store_true', help='evaluate the EMA weights of the checkpoint')
    parser.add_argument('--work-dir', help='where the log goes (default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. test_dataloader.dataset.data_root=data/x')
    parser.add_argument('--device', choices=DEVICE_CHOICES, help="default: the config's device (auto)")


def evaluate_checkpoint(args, evaluator_options=None, hooks=()):
    """Run the config's test set through the checkpoint's weights.

    ``evaluator_options`` are added to ``test_evaluator`` (an IoUMetric),
    ``hooks`` (config dicts) to ``custom_hooks``. Returns ``(runner, metrics)``;
    ``runner.test_loop.evaluator.results`` holds the confusion matrix and the
    per-class scores.
    """
    cfg = load_config(args)
    for key in ('test_dataloader', 'test_evaluator'):
        if not cfg.get(key):
            raise KeyError(f'{args.config} has no {key}; the analysis needs labelled test data and an IoUMetric')
    cfg.model.pretrained = None  # the checkpoint holds every weight
    cfg.test_evaluator = dict(cfg.test_evaluator, **(evaluator_options or {}))
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + list(hooks)

    from dformer_seg.runtime import use_device
    use_device(args.device or cfg.get('device') or 'auto')
    from dformer_seg.engine import Runner

    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(args.checkpoint, strict=True, use_ema=args.use_ema)
    metrics = runner.test()
    return runner, metrics
