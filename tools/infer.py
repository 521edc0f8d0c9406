"""Segment your own RGB-D images with a trained model.

    python tools/infer.py CONFIG CHECKPOINT --rgb PATH_OR_DIR [--depth PATH_OR_DIR] --out DIR
                          [--overlay] [--legend] [--opacity 0.5] [--tta] [--save-scores]
                          [--cfg-options k=v ...] [--device auto|cpu|cuda] [--backend jittor|onnxruntime]
                          [--debug]
    python tools/infer.py CONFIG CHECKPOINT --rgb FRAMES_DIR_OR_VIDEO [--depth DIR_OR_VIDEO] --video OUT.mp4
                          [--side-by-side] [--fps F] [--out DIR] [--opacity 0.5] ...

CHECKPOINT may be an .onnx file exported by tools/deployment/export_onnx.py (with
``--backend onnxruntime``, the default for .onnx files): ONNX Runtime then computes
the logits and the same label maps and overlays are written.

--rgb/--depth are one image file each, or two folders whose files are paired by
file name stem (``RGB/0001.jpg`` with ``Depth/0001.png``); files without a
partner are listed and skipped. Depth is read as the config's test pipeline says
(8-bit PNGs as released with NYUDepthv2/SUNRGBD, or 16-bit raw depth scaled by
``raw_depth_range``). Without --depth every RGB image is segmented with the
config's missing-depth value (``LoadDepthFromFile.missing_value``), with a
warning that accuracy drops. Writes, per pair named after the RGB file stem:

    DIR/labels/<stem>.png      class index per pixel, at the RGB image's size
    DIR/overlays/<stem>.png    (--overlay) class colours blended over the RGB image
    DIR/scores/<stem>.npy      (--save-scores) float32 class probabilities, (C, H, W)

A pair that cannot be read (missing or corrupt file, depth and RGB of
different sizes) is reported and skipped; the exit status is 1 when any pair
failed.

--video OUT.mp4 segments an RGB-D sequence instead: --rgb is a folder of frames or
an RGB video, --depth a folder of depth frames (8- or 16-bit PNGs), a depth video,
or nothing. Frames are paired in name order (folders) or frame order (videos);
the video shows the overlay, or RGB | depth | prediction with --side-by-side, at
--fps (default: the RGB video's, else 10); --out DIR also writes DIR/labels/<frame>.png.
A broken frame is reported and skipped (exit status 1); depth of another frame
count or size stops the run with a message naming both streams.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dformer_seg import cli  # noqa: E402  (does not import Jittor)

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


class InputError(cli.ToolError):
    """The --rgb/--depth/--out arguments do not name usable files."""


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint=True)
    parser.add_argument('--rgb', required=True, help='an RGB image file or a folder of them')
    parser.add_argument('--depth', help='the depth file, or the folder of depth files (none: run without depth)')
    parser.add_argument('--out', help='output folder (required unless --video is given)')
    parser.add_argument('--video', metavar='OUT.mp4', help='segment a sequence (frame folder or video) into this video')
    parser.add_argument('--side-by-side', action='store_true', help='video frames show RGB | depth | prediction')
    parser.add_argument('--fps', type=float, help="frame rate of --video (default: the RGB video's, else 10)")
    parser.add_argument('--overlay', action='store_true', help='also write colour overlays (DIR/overlays)')
    parser.add_argument('--legend', action='store_true', help='add a legend of the classes present to overlays')
    parser.add_argument('--opacity', type=float, default=0.5, help='overlay opacity in 0..1 (default 0.5)')
    parser.add_argument('--tta', action='store_true', help="multi-scale + flip test (the config's tta_cfg)")
    parser.add_argument('--save-scores', action='store_true',
                        help='also save the class probabilities as .npy (DIR/scores)')
    parser.add_argument('--backend', choices=('jittor', 'onnxruntime'),
                        help='jittor (checkpoints) or onnxruntime (an exported .onnx); default: from the file')
    parser.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32',
                        help='precision of the heavy ops of the Jittor model (default fp32; docs/precision.md)')
    args = parser.parse_args(argv)
    if not (args.out or args.video):
        parser.error('--out DIR is required (or --video OUT.mp4 for a sequence)')
    if args.video and (args.overlay or args.legend or args.save_scores or args.checkpoint.endswith('.onnx')):
        parser.error('--video writes the overlay into the video (no --overlay/--legend/--save-scores, no .onnx)')
    if (args.side_by_side or args.fps) and not args.video:
        parser.error('--side-by-side and --fps apply to --video')
    if args.fps is not None and args.fps <= 0:
        parser.error(f'--fps must be positive, got {args.fps}')
    if not args.video and os.path.isfile(args.rgb) and args.rgb.lower().endswith(VIDEO_EXTENSIONS):
        parser.error(f'--rgb {args.rgb} is a video: add --video OUT.mp4')
    is_onnx = args.checkpoint.endswith('.onnx')
    if args.backend is not None and (args.backend == 'onnxruntime') != is_onnx:
        parser.error(f'--backend {args.backend} does not fit {args.checkpoint}: onnxruntime runs an exported .onnx '
                     'file, jittor runs .pkl / .pth checkpoints')
    if is_onnx and args.precision != 'fp32':
        parser.error('--precision applies to the Jittor model; an .onnx file runs as it was exported')
    if is_onnx and args.tta:
        parser.error('--tta resizes the images, but an .onnx model has a fixed input size')
    if not 0.0 <= args.opacity <= 1.0:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    if args.legend and not args.overlay:
        parser.error('--legend draws on the overlays: add --overlay')
    return args


def images_by_stem(folder):
    """``{stem: path}`` of the image files directly inside ``folder``."""
    found = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        stem, ext = os.path.splitext(name)
        if not (os.path.isfile(path) and ext.lower() in IMAGE_EXTENSIONS):
            continue
        if stem in found:
            raise InputError(f'two files in {folder} have the stem {stem!r} ({os.path.basename(found[stem])}, '
                             f'{name}): pairs are matched by stem, so keep one of them')
        found[stem] = path
    return found


def find_pairs(rgb, depth):
    """``(pairs, rgb_without_depth, depth_without_rgb)``: ``pairs`` is a list of
    ``(stem, rgb_path, depth_path)`` sorted by stem; the others list unpaired files.
    Without ``depth`` every RGB image is a pair with depth None."""
    if depth is None:
        return rgb_without_depth(rgb), [], []
    for path, what in ((rgb, '--rgb'), (depth, '--depth')):
        if not os.path.exists(path):
            raise InputError(f'{what} {path} does not exist')
    if os.path.isfile(rgb) and os.path.isfile(depth):
        return [(os.path.splitext(os.path.basename(rgb))[0], rgb, depth)], [], []
    if not (os.path.isdir(rgb) and os.path.isdir(depth)):
        raise InputError(f'--rgb and --depth must both be files or both be folders (got {rgb}, {depth})')
    rgb_files, depth_files = images_by_stem(rgb), images_by_stem(depth)
    if not rgb_files:
        raise InputError(f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in --rgb folder {rgb}')
    pairs = [(stem, rgb_files[stem], depth_files[stem]) for stem in sorted(rgb_files) if stem in depth_files]
    rgb_alone = [rgb_files[s] for s in sorted(rgb_files) if s not in depth_files]
    depth_alone = [depth_files[s] for s in sorted(depth_files) if s not in rgb_files]
    if not pairs:
        raise InputError(f'no file in {rgb} has a depth file of the same stem in {depth} '
                         f'(e.g. RGB/0001.jpg pairs with Depth/0001.png)')
    return pairs, rgb_alone, depth_alone


def check_out_dir(args):
    """Refuse an --out (or a subfolder it will get) that exists as a file, before the model runs."""
    subfolders = ['labels'] + (['overlays'] if args.overlay else []) + (['scores'] if args.save_scores else [])
    for path in [args.out] + [os.path.join(args.out, name) for name in subfolders]:
        if os.path.exists(path) and not os.path.isdir(path):
            raise InputError(f'--out {args.out}: {path} is an existing file; the outputs need a folder there')


def rgb_without_depth(rgb):
    if os.path.isfile(rgb):
        return [(os.path.splitext(os.path.basename(rgb))[0], rgb, None)]
    if not os.path.isdir(rgb):
        raise InputError(f'--rgb {rgb} does not exist')
    rgb_files = images_by_stem(rgb)
    if not rgb_files:
        raise InputError(f'no image files ({", ".join(IMAGE_EXTENSIONS)}) in --rgb folder {rgb}')
    return [(stem, rgb_files[stem], None) for stem in sorted(rgb_files)]


def report_unpaired(rgb_alone, depth_alone, write):
    for files, problem in ((rgb_alone, 'no depth file'), (depth_alone, 'no RGB image')):
        if files:
            shown = ', '.join(files[:10]) + (f' and {len(files) - 10} more' if len(files) > 10 else '')
            write(f'warning: skipped {len(files)} file(s) with {problem} of the same stem: {shown}')


def save_outputs(result, stem, rgb_path, out_dir, model, args):
    import numpy as np

    from dformer_seg.datasets.io import write_image_file
    from dformer_seg.visualization import show_result

    label_map = result.label_map
    dtype = np.uint8 if model.num_classes <= 256 else np.uint16
    write_image_file(os.path.join(out_dir, 'labels', f'{stem}.png'), label_map.astype(dtype))
    if args.overlay:
        meta = model.dataset_meta or {}
        show_result(rgb_path, label_map, palette=meta.get('palette'), class_names=meta.get('classes'),
                    opacity=args.opacity, legend=args.legend,
                    out_file=os.path.join(out_dir, 'overlays', f'{stem}.png'))
    if args.save_scores:
        os.makedirs(os.path.join(out_dir, 'scores'), exist_ok=True)
        np.save(os.path.join(out_dir, 'scores', f'{stem}.npy'), result.scores)


def run(args):
    """Segment every pair; a pair that fails is reported and skipped, and the run then ends with an
    :class:`InputError` listing them."""
    from tqdm import tqdm

    if args.video:
        return run_sequence(args)
    check_out_dir(args)
    pairs, rgb_alone, depth_alone = find_pairs(args.rgb, args.depth)
    model = load_model(args)
    from dformer_seg.apis import inference_model
    from dformer_seg.datasets import DataError

    def warn(message):
        tqdm.write(message, file=sys.stderr)

    report_unpaired(rgb_alone, depth_alone, warn)
    failures = []
    for stem, rgb_path, depth_path in tqdm(pairs, desc='segmenting', unit='pair', file=sys.stderr):
        try:
            result = inference_model(model, rgb_path, depth_path, return_scores=args.save_scores)
        except DataError as exc:
            failures.append((rgb_path, str(exc)))
            warn(f'error: {exc}')
            continue
        save_outputs(result, stem, rgb_path, args.out, model, args)
    print(f'segmented {len(pairs) - len(failures)} of {len(pairs)} pair(s) into {args.out}'
          + (f'; {len(failures)} failed' if failures else ''))
    if failures:
        raise InputError(f'{len(failures)} pair(s) failed:\n' + '\n'.join(f'  {p}: {m}' for p, m in failures))


def load_model(args):
    """The model of the config and checkpoint, in ``--precision``, with the config's TTA under ``--tta``."""
    cfg = cli.setup(args)
    if args.tta and not cfg.get('tta_cfg'):
        raise InputError(f'--tta needs tta_cfg (e.g. dict(scales=[0.75, 1.0, 1.25], flip=True)) in {args.config}')
    from dformer_seg.apis import enable_tta, init_model

    model = init_model(cfg, args.checkpoint, precision=args.precision)
    return enable_tta(model) if args.tta else model


def run_sequence(args):
    """Segment the frames of --rgb (and --depth) into --video; exit status 1 when frames were skipped."""
    from dformer_seg.apis.sequence import segment_sequence

    model = load_model(args)
    summary = segment_sequence(model, args.rgb, args.depth, args.video, side_by_side=args.side_by_side,
                               labels_dir=os.path.join(args.out, 'labels') if args.out else None,
                               opacity=args.opacity, fps=args.fps)
    print(f'segmented {summary["written"]} of {summary["frames"]} frame(s) into {args.video} '
          f'({summary["fps"]:.2f} frames/s)' + (f'; {len(summary["skipped"])} skipped' if summary['skipped'] else ''))
    if summary['skipped']:
        raise InputError(f'{len(summary["skipped"])} frame(s) skipped:\n'
                         + '\n'.join(f'  {name}: {reason}' for name, reason in summary['skipped']))
    return summary


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
