"""Convert an official DFormer / DFormerv2 PyTorch checkpoint to the native dformer_seg format.

    python tools/model_converters/dformer2jittor.py SRC.pth DST.pkl [--config CFG]

torch is not needed. BatchNorm ``num_batches_tracked`` counters (Jittor has
none) and a leading ``module.`` are dropped. With ``--config`` the weights are
checked against the model that config builds, and the conversion fails,
listing every missing, unexpected or mis-shaped key, when they do not fit.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from dformer_seg import cli  # noqa: E402

cli.prepare()  # reads --device; before anything imports Jittor
from dformer_seg.utils.checkpoint import CheckpointError, read_checkpoint, save_checkpoint  # noqa: E402


def convert_state_dict(state_dict):
    converted = {}
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.endswith('num_batches_tracked'):
            continue
        converted[key] = value
    return converted


def verify_against_config(state_dict, config_path):
    from dformer_seg.apis import init_model
    from dformer_seg.utils.checkpoint import load_state_dict

    model = init_model(config_path, checkpoint=None, device='cpu')
    load_state_dict(model, state_dict, strict=True)


def convert(src, dst, config=None):
    state_dict = convert_state_dict(read_checkpoint(src)['state_dict'])
    if config is not None:
        verify_against_config(state_dict, config)
    meta = dict(source=os.path.abspath(src), converter='dformer2jittor')
    if config is not None:
        meta['config'] = os.path.abspath(config)
    save_checkpoint(dst, state_dict, meta=meta)
    return state_dict


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official PyTorch checkpoint (.pth / .pth.tar)')
    parser.add_argument('dst', help='native checkpoint to write (.pkl)')
    parser.add_argument('--config', help='model config to verify the keys and shapes against (strict)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        state_dict = convert(args.src, args.dst, args.config)
    except (CheckpointError, FileNotFoundError) as exc:
        print(f'conversion failed: {exc}', file=sys.stderr)
        return 1
    print(f'wrote {args.dst}: {len(state_dict)} tensors'
          + (f', verified against {args.config}' if args.config else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
