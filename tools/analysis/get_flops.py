"""Parameters and FLOPs of the segmentor a config builds.

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--cfg-options k=v ...] [--device auto|cpu|cuda]
                                       [--top N] [--depth D]

Prints the exact parameter count and two FLOP counts of one whole-image
inference (``encode_decode`` on a 1 x 3 x H x W image and a 1 x 1 x H x W depth
map; default 480 x 640):

* thop convention: the number the DFormer papers quote (convs, linears and
  norms only, one multiply-add = 1; see ``dformer_seg/analysis``);
* full: everything the model computes (attention products, softmax, the NMF
  iterations, interpolation, activations, elementwise arithmetic).

Both come from one traced forward pass. Jittor runs lazily and the counter
only needs shapes, so no kernel runs and every model is counted in seconds.
The weights are the initial ones: counts do not depend on them.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__)
    parser.add_argument('--shape', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'),
                        help='input height and width (default 480 640, as in the papers)')
    parser.add_argument('--top', type=int, default=8, help='op and layer types listed (default 8)')
    parser.add_argument('--depth', type=int, default=1,
                        help='module path depth of the per-module table (default 1: backbone, heads)')
    args = parser.parse_args(argv)
    if min(args.shape) < 1:
        parser.error(f'--shape needs positive sizes, got {args.shape}')
    if args.top < 0 or args.depth < 1:
        parser.error('--top must be >= 0 and --depth >= 1')
    return args


def count_config(cfg, shape):
    """Build the segmentor of ``cfg`` and return ``(model, FlopReport)`` for one H x W input."""
    import jittor as jt

    from dformer_seg.analysis import profile_flops
    from dformer_seg.apis import init_model

    model = init_model(cfg, checkpoint=None)
    height, width = shape
    batch = dict(img=jt.zeros((1, 3, height, width)), depth=jt.zeros((1, 1, height, width)))
    report = profile_flops(model, batch, forward=lambda b: model(b, mode='tensor'))
    return model, report


def format_module_table(report, depth):
    from dformer_seg.analysis import flops_by_module

    lines = [f'{"Module":<40}{"thop GFLOPs":>14}{"full GFLOPs":>14}']
    for path, (thop, full) in flops_by_module(report, depth).items():
        lines.append(f'{path:<40}{thop / 1e9:>14.3f}{full / 1e9:>14.3f}')
    return '\n'.join(lines)


def run(args):
    cfg = cli.setup(args)
    from dformer_seg.analysis import format_report
    from dformer_seg.config import ConfigError

    if 'model' not in cfg:
        raise ConfigError(f'{args.config} has no "model" entry')
    _, report = count_config(cfg, args.shape)

    height, width = args.shape
    outside = sum(report.params_outside_thop.values())
    rule = '=' * 62
    print(rule)
    print(f'Config: {args.config}')
    print(f'Input:  img 1x3x{height}x{width}, depth 1x1x{height}x{width} (encode_decode, eval mode)')
    print(rule)
    print(format_report(report, top=args.top))
    print(rule)
    print(format_module_table(report, args.depth))
    print(rule)
    print(f'thop counts parameters only inside the layers it counts; {outside:,} trainable parameters of other '
          'modules (layer scales, hand-written norms, ...) are left out of its parameter count.')
    return report


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
