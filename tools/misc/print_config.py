"""Print the fully resolved config (after ``_base_`` merging and ``--cfg-options``).

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...] [--dump OUT.py] [--debug]
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, device=False)
    parser.add_argument('--dump', help='also write the resolved config to this .py file')
    return parser.parse_args(argv)


def run(args):
    cfg = cli.setup(args)
    print(f'# Config: {cfg.filename}')
    print(cfg.pretty_text)
    if args.dump:
        cfg.dump(args.dump)
        print(f'# written to {args.dump}')
    return cfg


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
