"""Estimate a depth map for every image of a folder with a monocular depth model exported to ONNX.

    python tools/dataset_converters/estimate_depth.py MODEL.onnx data/ImageNet data/Depth_ImageNet \
        --prediction disparity [--input-size 518 518] [--mean 0.485 0.456 0.406 --std 0.229 0.224 0.225]

Every image under IMAGE_DIR (any depth of sub-folders: ImageNet's train/<class>/<name>.JPEG) gets
OUT_DIR/<same relative path with --suffix> (default .png): an 8-bit single-channel map at the image's
size in the toolbox's convention, **0 = nearest, 255 = farthest**, as the released NYUDepthv2 depth
and the demo sets. Monocular estimators predict relative depth (unknown scale and shift), so each map is
normalised on its own: its minimum -> 0 and its maximum -> 255 (per image, linear in the prediction).
``--prediction`` says what the model outputs: 'disparity' (larger = nearer: Depth Anything, MiDaS/DPT)
is flipped, 'depth' (larger = farther: Omnidata's depth model, metric models) is not.

The input is RGB scaled to 0..1, resized to ``--input-size`` (default: the model's input size when the
ONNX file fixes it, else 518x518, Depth Anything's) and normalised with ``--mean``/``--std`` (default
ImageNet's; Omnidata uses 0.5/0.5). Images whose output exists are skipped, so an interrupted run resumes;
each map is written to a temporary file and renamed, so no half-written file is ever left under its name.
How to export Depth Anything and DPT/Omnidata to ONNX: docs/pretraining.md.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg.utils.misc import ProgressBar  # noqa: E402

IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png', '.bmp', '.webp', '.tif', '.tiff')
PREDICTIONS = ('disparity', 'depth')
DEFAULT_INPUT_SIZE = (518, 518)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class EstimationError(ValueError):
    """A model, image or prediction that cannot give a depth map."""


def list_images(image_dir):
    """Paths of the images under ``image_dir``, relative to it, sorted."""
    found = []
    for current, dirs, files in os.walk(image_dir, followlinks=True):
        dirs.sort()
        found += [os.path.relpath(os.path.join(current, f), image_dir) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith('.')]
    return found


def output_path(out_dir, rel_path, suffix):
    return os.path.join(out_dir, os.path.splitext(rel_path)[0] + suffix)


def to_uint8_depth(prediction, kind):
    """A relative prediction (HxW) -> 8-bit depth, 0 = nearest, 255 = farthest, min-max normalised."""
    prediction = prediction.astype(np.float64)
    if not np.all(np.isfinite(prediction)):
        raise EstimationError(f'the prediction has {int((~np.isfinite(prediction)).sum())} NaN/inf values')
    low, high = prediction.min(), prediction.max()
    if high <= low:
        return np.zeros(prediction.shape, np.uint8)  # a constant prediction holds no depth order
    scaled = (prediction - low) / (high - low)
    if kind == 'disparity':
        scaled = 1.0 - scaled
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)


def write_atomic(path, image):
    folder = os.path.dirname(path)
    os.makedirs(folder or '.', exist_ok=True)
    ext = os.path.splitext(path)[1]
    ok, encoded = cv2.imencode(ext, image)
    if not ok:
        raise EstimationError(f'OpenCV cannot encode {ext} files: {path}')
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.tmp{os.getpid()}{ext}')
    encoded.tofile(tmp)
    os.replace(tmp, path)


class OnnxDepthEstimator:
    """One ONNX Runtime session; ``__call__(bgr uint8 image) -> HxW float prediction at the image's size``."""

    def __init__(self, model_path, input_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD, providers=None):
        import onnxruntime as ort

        if not os.path.isfile(model_path):
            raise EstimationError(f'ONNX model not found: {model_path}')
        self.session = ort.InferenceSession(model_path, providers=providers or ['CPUExecutionProvider'])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        shape = list(model_input.shape)
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise EstimationError(f'{model_path}: expected one NCHW RGB input, got shape {shape}')
        fixed = tuple(shape[2:]) if all(isinstance(s, int) for s in shape[2:]) else None
        if input_size is not None and fixed is not None and tuple(input_size) != fixed:
            raise EstimationError(f'{model_path} takes {fixed[0]}x{fixed[1]} inputs; --input-size is '
                                  f'{input_size[0]}x{input_size[1]}')
        self.input_size = tuple(input_size or fixed or DEFAULT_INPUT_SIZE)
        self.mean = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, 3, 1, 1)

    def __call__(self, bgr):
        height, width = bgr.shape[:2]
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        resized = cv2.resize(rgb, (self.input_size[1], self.input_size[0]), interpolation=cv2.INTER_CUBIC)
        batch = (resized.transpose(2, 0, 1)[None].astype(np.float32) / 255.0 - self.mean) / self.std
        output = np.asarray(self.session.run(None, {self.input_name: batch})[0])
        prediction = np.squeeze(output)
        if prediction.ndim != 2:
            raise EstimationError(f'the model returned shape {output.shape}; expected one depth map '
                                  f'(1, H, W), (1, 1, H, W) or (H, W)')
        return cv2.resize(prediction.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def estimate_folder(estimator, image_dir, out_dir, kind, suffix='.png', overwrite=False, stream=None):
    """Write a depth map for every image of ``image_dir`` lacking one; returns ``(written, skipped)``."""
    if kind not in PREDICTIONS:
        raise EstimationError(f'--prediction must be one of {PREDICTIONS}, got {kind!r}')
    if not os.path.isdir(image_dir):
        raise EstimationError(f'image folder not found: {image_dir}')
    images = list_images(image_dir)
    if not images:
        raise EstimationError(f'no images (*{", *".join(IMAGE_EXTENSIONS)}) under {image_dir}')
    todo = [p for p in images if overwrite or not os.path.isfile(output_path(out_dir, p, suffix))]
    skipped = len(images) - len(todo)
    print(f'{len(images)} images under {image_dir}: {skipped} already have depth in {out_dir}, '
          f'{len(todo)} to estimate', file=stream or sys.stdout)
    progress = ProgressBar(len(todo), stream=stream)
    for rel_path in todo:
        bgr = cv2.imread(os.path.join(image_dir, rel_path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if bgr is None:
            raise EstimationError(f'cannot read image {os.path.join(image_dir, rel_path)}')
        try:
            depth = to_uint8_depth(estimator(bgr), kind)
        except EstimationError as exc:
            raise EstimationError(f'{os.path.join(image_dir, rel_path)}: {exc}') from None
        write_atomic(output_path(out_dir, rel_path, suffix), depth)
        progress.update()
    return len(todo), skipped


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('model', help='monocular depth estimator exported to ONNX (one NCHW RGB input)')
    parser.add_argument('image_dir', help='folder of RGB images (searched recursively)')
    parser.add_argument('out_dir', help='folder for the depth maps (same relative paths)')
    parser.add_argument('--prediction', choices=PREDICTIONS, required=True,
                        help="what the model outputs: 'disparity' (larger = nearer: Depth Anything, MiDaS/DPT) "
                             "or 'depth' (larger = farther: Omnidata depth)")
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'),
                        help='model input size (default: fixed by the model, else 518 518)')
    parser.add_argument('--mean', type=float, nargs=3, default=IMAGENET_MEAN, help='RGB mean on 0..1 input')
    parser.add_argument('--std', type=float, nargs=3, default=IMAGENET_STD, help='RGB std on 0..1 input')
    parser.add_argument('--suffix', default='.png', help='depth file suffix replacing the image extension '
                        '(default .png; lossless, which JPEG is not)')
    parser.add_argument('--overwrite', action='store_true', help='estimate again where a depth file exists')
    parser.add_argument('--providers', nargs='+', help='ONNX Runtime execution providers (default: CPU)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        estimator = OnnxDepthEstimator(args.model, args.input_size, args.mean, args.std, args.providers)
        written, skipped = estimate_folder(estimator, args.image_dir, args.out_dir, args.prediction, args.suffix,
                                           args.overwrite)
    except EstimationError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    print(f'wrote {written} depth maps to {args.out_dir} ({skipped} existed); 0 = nearest, 255 = farthest, '
          f'normalised per image')
    return 0


if __name__ == '__main__':
    sys.exit(main())
