"""Convert an official DFormer / DFormerv2 PyTorch checkpoint to the native dformer_seg format.

    python tools/model_converters/dformer2jittor.py SRC.pth DST.pkl [--config CFG]

torch is not needed. BatchNorm ``num_batches_tracked`` counters (Jittor has
none) and a leading ``module.`` are dropped. With ``--config`` the weights are
checked against the model that config builds, and the conversion fails,
listing every missing, unexpected or mis-shaped key, when they do not fit.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def convert_state_dict(state_dict):
    converted = {}
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.endswith('num_batches_tracked'):
            continue
        converted[key] = value
    return converted


def verify_against_config(state_dict, config):
    from dformer_seg.apis import init_model
    from dformer_seg.utils.checkpoint import load_state_dict

    model = init_model(config, checkpoint=None)
    load_state_dict(model, state_dict, strict=True)


def convert(src, dst, config=None):
    """Convert ``src`` to ``dst``; with ``config`` (a path or a Config) check the weights against its model."""
    from dformer_seg.utils.checkpoint import read_checkpoint, save_checkpoint

    state_dict = convert_state_dict(read_checkpoint(src)['state_dict'])
    if config is not None:
        verify_against_config(state_dict, config)
    meta = dict(source=os.path.abspath(src), converter='dformer2jittor')
    if config is not None:
        meta['config'] = os.path.abspath(getattr(config, 'filename', config))
    save_checkpoint(dst, state_dict, meta=meta)
    return state_dict


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, config='optional', device='cpu')
    parser.add_argument('src', help='official PyTorch checkpoint (.pth / .pth.tar)')
    parser.add_argument('dst', help='native checkpoint to write (.pkl)')
    return parser.parse_args(argv)


def run(args):
    cfg = cli.setup(args)
    from dformer_seg.utils.checkpoint import CheckpointError

    try:
        state_dict = convert(args.src, args.dst, cfg)
    except CheckpointError as exc:
        raise cli.ToolError(f'conversion failed: {exc}') from exc
    print(f'wrote {args.dst}: {len(state_dict)} tensors'
          + (f', verified against {args.config}' if args.config else ''))


def main(argv=None):
    """Exit status 0 (converted) or 1 (an error, reported on stderr)."""
    return cli.exit_status(run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
