"""Print the fully resolved config (after ``_base_`` merging and ``--cfg-options``)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg.config import Config, DictAction  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description='Print the resolved config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                        help='override config keys, e.g. model.decode_head.num_classes=20 a.0.b=[1,2]')
    parser.add_argument('--dump', help='also write the resolved config to this .py file')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    print(f'# Config: {cfg.filename}')
    print(cfg.pretty_text)
    if args.dump:
        cfg.dump(args.dump)
        print(f'# written to {args.dump}')


if __name__ == '__main__':
    main()
