"""Train a segmentor.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--load-from CKPT] [--amp]
                                 [--cfg-options k=v ...] [--seed N] [--device auto|cpu|cuda] [--debug]
    mpirun -np N python tools/train.py CONFIG ...      (or: tools/dist_train.sh CONFIG N)

Errors in the input (config, data, checkpoint, work dir) and a diverged run print one
``error: ...`` line and exit with status 1; --debug (or DFORMER_SEG_DEBUG=1) shows the traceback.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


DEVICE_CHOICES = ('auto', 'cpu', 'cuda')


def select_device(argv=None):
    """Read --device and hand it to the runtime *before* dformer_seg (and so Jittor) is imported:
    importing the package prepares Jittor for the device in $DFORMER_SEG_DEVICE."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument('--device', choices=DEVICE_CHOICES)
    device = early.parse_known_args(argv)[0].device
    if device:
        os.environ['DFORMER_SEG_DEVICE'] = device
    return device


def parse_args(argv=None):
    from dformer_seg.config import DictAction
    from dformer_seg.utils.cli import add_debug_argument

    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const=True, default=None, metavar='CKPT',
                        help='continue training: from CKPT, or without a value from work_dir/last_checkpoint')
    parser.add_argument('--load-from', help='start from these weights (no optimizer state, iteration 0)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. train_loop.max_epochs=10 seed=0')
    parser.add_argument('--seed', type=int, help='random seed (default: the config, else random)')
    parser.add_argument('--amp', action='store_true',
                        help="mixed precision (sets the config's amp=True; CUDA only)")
    parser.add_argument('--device', choices=DEVICE_CHOICES, help="default: the config's device (auto)")
    add_debug_argument(parser)
    return parser.parse_args(argv)


def default_work_dir(config_path):
    return os.path.join('work_dirs', os.path.splitext(os.path.basename(config_path))[0])


def load_config(args):
    """The config of ``args.config`` with ``--cfg-options`` applied and the work dir resolved;
    a top-level key that nothing reads, in the file or in an option, is a ConfigError."""
    from dformer_seg.config import Config, check_option_keys, check_top_level_keys
    cfg = Config.fromfile(args.config)
    check_top_level_keys(cfg)
    check_option_keys(args.cfg_options, cfg)
    cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    return cfg


def main(argv=None):
    select_device(argv)
    args = parse_args(argv)
    from dformer_seg.utils.cli import report_user_errors
    with report_user_errors(args.debug):
        train(args)


def train(args):
    cfg = load_config(args)
    if args.resume is not None:
        cfg.resume = args.resume
    if args.load_from:
        cfg.load_from = args.load_from
    if args.seed is not None:
        cfg.seed = args.seed
    if args.amp and not cfg.get('amp'):
        cfg.amp = True  # a config's amp=dict(...) already switches it on, with its settings

    from dformer_seg.runtime import use_device
    use_device(args.device or cfg.get('device') or 'auto')
    from dformer_seg.engine import Runner

    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
