"""Train a segmentor.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--load-from CKPT] [--amp]
                                 [--cfg-options k=v ...] [--seed N] [--device auto|cpu|cuda] [--debug]
    mpirun -np N python tools/train.py CONFIG ...      (or: tools/dist_train.sh CONFIG N)

Errors in the input (config, data, checkpoint, work dir) and a diverged run print one
``error: ...`` line and exit with status 1; --debug (or DFORMER_SEG_DEBUG=1) shows the traceback.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, work_dir=True)
    parser.add_argument('--resume', nargs='?', const=True, default=None, metavar='CKPT',
                        help='continue training: from CKPT, or without a value from work_dir/last_checkpoint')
    parser.add_argument('--load-from', help='start from these weights (no optimizer state, iteration 0)')
    parser.add_argument('--seed', type=int, help='random seed (default: the config, else random)')
    parser.add_argument('--amp', action='store_true',
                        help="mixed precision (sets the config's amp=True; CUDA only)")
    return parser.parse_args(argv)


def main(argv=None):
    return cli.main(train, parse_args(argv))


def train(args):
    cfg = cli.setup(args)
    if args.resume is not None:
        cfg.resume = args.resume
    if args.load_from:
        cfg.load_from = args.load_from
    if args.seed is not None:
        cfg.seed = args.seed
    if args.amp and not cfg.get('amp'):
        cfg.amp = True  # a config's amp=dict(...) already switches it on, with its settings

    from dformer_seg.engine import Runner

    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
