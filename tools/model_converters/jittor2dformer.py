"""Convert a dformer_seg checkpoint to the official DFormer / DFormerv2 PyTorch checkpoint format.

    python tools/model_converters/jittor2dformer.py CKPT OUT.pth [--config CFG]

Writes ``{'model': state_dict}`` in torch's zip format, with the official key
names and a ``num_batches_tracked`` counter (int64) after every BatchNorm's
statistics, the layout the official code saves and loads; torch is not
needed. The counters, which Jittor does not keep, are restored as 0 (the
official BatchNorms use a fixed momentum, so the value is never read). With
``--config`` the weights are first checked against the model that config
builds (strict: every missing, unexpected or mis-shaped key is listed).
"""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

import numpy as np  # noqa: E402

from dformer_seg import cli  # noqa: E402  (does not import Jittor)

BN_STATISTICS = ('running_mean', 'running_var')


def to_official_state_dict(state_dict):
    """Official key order and names: each BatchNorm's ``num_batches_tracked`` right after its ``running_var``."""
    official = collections.OrderedDict()
    for key, value in state_dict.items():
        if key.endswith('num_batches_tracked'):
            continue
        official[key] = np.asarray(value)
        prefix, _, name = key.rpartition('.')
        if name == 'running_var' and f'{prefix}.running_mean' in state_dict:
            official[f'{prefix}.num_batches_tracked'] = np.array(0, dtype=np.int64)
    return official


def convert(src, dst, config=None):
    """Convert ``src`` to ``dst``; with ``config`` (a path or a Config) check the weights against its model."""
    from dformer_seg.deploy.torch_format import save_torch_checkpoint
    from dformer_seg.utils.checkpoint import read_checkpoint

    state_dict = read_checkpoint(src)['state_dict']
    if config is not None:
        from dformer_seg.apis import init_model
        from dformer_seg.utils.checkpoint import load_state_dict

        load_state_dict(init_model(config, checkpoint=None), state_dict, strict=True)
    official = to_official_state_dict(state_dict)
    save_torch_checkpoint({'model': official}, dst)
    return official


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, config='optional', device='cpu')
    parser.add_argument('src', help='dformer_seg checkpoint (.pkl from tools/train.py, or a .pth)')
    parser.add_argument('dst', help='official-format PyTorch checkpoint to write (.pth)')
    return parser.parse_args(argv)


def run(args):
    cfg = cli.setup(args)
    from dformer_seg.utils.checkpoint import CheckpointError

    try:
        official = convert(args.src, args.dst, cfg)
    except (CheckpointError, TypeError) as exc:  # TypeError: a value torch's format cannot hold
        raise cli.ToolError(f'conversion failed: {exc}') from exc
    trackers = sum(key.endswith('num_batches_tracked') for key in official)
    print(f'wrote {args.dst}: {len(official)} tensors ({trackers} num_batches_tracked restored)'
          + (f', verified against {args.config}' if args.config else ''))


def main(argv=None):
    """Exit status 0 (converted) or 1 (an error, reported on stderr)."""
    return cli.exit_status(run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
