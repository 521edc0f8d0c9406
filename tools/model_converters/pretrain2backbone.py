"""Write the backbone of an RGB-D pretraining checkpoint as an official pretrained ``.pth`` (no torch needed).

    python tools/model_converters/pretrain2backbone.py work_dirs/<run>/best_top1_epoch_300.pkl \
        checkpoints/pretrained/DFormer_Tiny_ours.pth [--ema] [--no-head] [--config SEG_CONFIG]

The output is RGBD-Pretrain's checkpoint layout, ``{'state_dict': {...}}`` in torch's zip format: the
backbone keys without ``backbone.`` plus the classifier's ``pred.weight`` / ``pred.bias`` (left out with
``--no-head``), with a ``num_batches_tracked`` after every BatchNorm. The official DFormer / DFormerv2
segmentation code, RGBD-Pretrain and this toolbox's ``model.pretrained`` all read it. A pretraining
checkpoint also works as ``model.pretrained`` directly; this file is for the official code or for sharing.
``--ema`` takes the EMA weights (training with an EMAHook). ``--config`` checks the backbone against a
segmentation config first: every backbone key of that config must be there with its shape.
"""
import collections
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..'))
sys.path.insert(0, HERE)

from dformer_seg import cli  # noqa: E402  (does not import Jittor)

BACKBONE_PREFIX = 'backbone.'
HEAD_PREFIX = 'pred.'


def backbone_state_dict(checkpoint_path, use_ema=False, with_head=True):
    """The classifier checkpoint's weights in RGBD-Pretrain's names (backbone keys without prefix, ``pred.*``)."""
    from dformer_seg.utils.checkpoint import CheckpointError, read_checkpoint

    checkpoint = read_checkpoint(checkpoint_path)
    key = 'state_dict_ema' if use_ema else 'state_dict'
    if key not in checkpoint:
        raise CheckpointError(f'{checkpoint_path} has no {key} (EMA weights exist only when training ran with an '
                              f'EMAHook)')
    state_dict = checkpoint[key]
    others = [k for k in state_dict if not k.startswith((BACKBONE_PREFIX, HEAD_PREFIX))]
    if others or not any(k.startswith(BACKBONE_PREFIX) for k in state_dict):
        raise CheckpointError(f'{checkpoint_path} is not a pretraining (RGBDImageClassifier) checkpoint: its keys '
                              f'are not backbone.* and pred.* (e.g. {(others or sorted(state_dict))[:3]})')
    result = collections.OrderedDict()
    for name, value in state_dict.items():
        if name.startswith(BACKBONE_PREFIX):
            result[name[len(BACKBONE_PREFIX):]] = value
        elif with_head:
            result[name] = value
    return result


def check_against_config(state_dict, config):
    """Raise when a backbone key of the segmentation ``config`` is missing from ``state_dict`` or has
    another shape (keys only the classifier has, e.g. ``pred.*``, are fine)."""
    from dformer_seg.apis import init_model
    from dformer_seg.config import Config
    from dformer_seg.utils.checkpoint import CheckpointError

    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    cfg.model.pretrained = None  # only the shapes matter; the config's own pretrained file may not exist
    model = init_model(cfg, checkpoint=None, device='cpu')
    problems = []
    for name, var in model.backbone.state_dict().items():
        if name.endswith('num_batches_tracked'):
            continue
        if name not in state_dict:
            problems.append(f'missing {name}')
        elif tuple(state_dict[name].shape) != tuple(var.shape):
            problems.append(f'{name}: checkpoint {tuple(state_dict[name].shape)}, config {tuple(var.shape)}')
    if problems:
        listed = '\n  '.join(problems[:20]) + (f'\n  ... and {len(problems) - 20} more' if len(problems) > 20 else '')
        name = getattr(cfg, 'filename', None) or 'the config'
        raise CheckpointError(f'the backbone does not match {name} ({len(problems)} keys):\n  {listed}')


def convert(src, dst, use_ema=False, with_head=True, config=None):
    from jittor2dformer import to_official_state_dict

    from dformer_seg.deploy.torch_format import save_torch_checkpoint

    state_dict = backbone_state_dict(src, use_ema, with_head)
    if config is not None:
        check_against_config(state_dict, config)
    official = to_official_state_dict(state_dict)
    save_torch_checkpoint({'state_dict': official}, dst)
    return official


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, config='optional', device='cpu')
    parser.add_argument('src', help='checkpoint of a pretraining run (tools/train.py configs/pretrain/...)')
    parser.add_argument('dst', help='official-layout pretrained backbone to write (.pth)')
    parser.add_argument('--ema', action='store_true', help='take the EMA weights (state_dict_ema)')
    parser.add_argument('--no-head', action='store_true', help='leave out the classifier layer pred.*')
    return parser.parse_args(argv)


def run(args):
    cfg = cli.setup(args)
    from dformer_seg.utils.checkpoint import CheckpointError

    try:
        official = convert(args.src, args.dst, args.ema, not args.no_head, cfg)
    except CheckpointError as exc:
        raise cli.ToolError(f'conversion failed: {exc}') from exc
    print(f'wrote {args.dst}: {len(official)} tensors in RGBD-Pretrain\'s layout'
          + (f', checked against {args.config}' if args.config else ''))


def main(argv=None):
    """Exit status 0 (converted) or 1 (an error, reported on stderr)."""
    return cli.exit_status(run, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
