"""Export a trained segmentor to ONNX and check it in ONNX Runtime.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out model.onnx [--shape H W]
        [--output logits|labels] [--opset N] [--no-verify] [--dynamic-shape] [--cfg-options k=v ...] [--debug]

Inputs of the ONNX model: ``rgb`` (1, 3, H, W) and ``depth`` (1, C, H, W),
normalised as the config's test pipeline leaves them (C is its depth channel
count); output ``logits`` (1, classes, H, W) or ``labels`` (1, H, W, int64).
``--shape`` defaults to the sliding-window crop of the config's test_cfg.
Verification (on by default) runs ``onnx.checker`` and compares ONNX Runtime
with the Jittor model on a random input: max |logit difference| <= 1e-4 and
argmax agreement >= 99.9%; the file is written only when it passes, through a
temporary file, so a failed export leaves nothing behind. The export runs on the CPU.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))

from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint=True, device='cpu')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="input size (multiples of 32); default: the config's test_cfg.crop_size")
    parser.add_argument('--output', choices=('logits', 'labels'), default='logits',
                        help='logits (N, classes, H, W) or the argmax label map (N, H, W); default logits')
    parser.add_argument('--opset', type=int, help='ONNX opset (default: dformer_seg.deploy.DEFAULT_OPSET)')
    parser.add_argument('--dynamic-shape', action='store_true',
                        help='symbolic H and W (not possible for DFormer / DFormerv2, see docs/deployment.md)')
    parser.add_argument('--verify', action=argparse.BooleanOptionalAction, default=True,
                        help='check with onnx.checker and ONNX Runtime against Jittor (default on)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random verification input')
    return parser.parse_args(argv)


def default_shape(cfg):
    test_cfg = cfg.to_dict()['model'].get('test_cfg') or {}
    if test_cfg.get('mode') == 'slide' and test_cfg.get('crop_size'):
        return tuple(test_cfg['crop_size'])
    raise cli.ToolError(f'{cfg.filename} does not fix an input size (no sliding-window crop_size); '
                        'pass --shape H W')


def check_destination(path):
    """Refuse an --out that cannot be written, before the model is traced and verified (minutes)."""
    import tempfile

    if os.path.isdir(path):
        raise cli.ToolError(f'--out {path} is a folder; give the .onnx file to write')
    parent = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise cli.ToolError(f'--out {path}: {parent} is a file, so no folder can be made there')
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise cli.ToolError(f'--out {path}: cannot write in {parent} ({exc.strerror})') from None


def export(args):
    check_destination(args.out)
    cfg = cli.setup(args)
    from dformer_seg.apis import depth_channels, init_model
    from dformer_seg.deploy import DEFAULT_OPSET, check_shape, export_onnx

    shape = check_shape(args.shape or default_shape(cfg))
    channels = depth_channels(cfg)
    model = init_model(cfg, args.checkpoint)
    report = export_onnx(model, args.out, shape, depth_channels=channels, output=args.output,
                         opset=args.opset or DEFAULT_OPSET, dynamic_shape=args.dynamic_shape, verify=args.verify,
                         seed=args.seed)
    print(f'wrote {args.out} ({os.path.getsize(args.out) / 2 ** 20:.1f} MiB): inputs rgb (1, 3, {shape[0]}, '
          f'{shape[1]}), depth (1, {channels}, {shape[0]}, {shape[1]}); output {args.output}')
    if report is not None:
        print(f'verified: {report.summary()}')
    return report


def main(argv=None):
    return cli.main(export, parse_args(argv))


if __name__ == '__main__':
    main()
