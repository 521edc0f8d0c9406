"""Sensor corruptions of the depth map and the RGB image, at five severities, for robustness evaluation.

``Corrupt(corruption, severity)`` applies one corruption (or several joined by '+', e.g.
``'depth_noise+rgb_noise'``) to a loaded sample. It goes right after LoadImageFromFile and LoadDepthFromFile,
before Normalize: the image is uint8 and the depth is in the 0..255 units of the loaded map, whose value
``depth_missing_value`` marks a pixel without measurement. Depth in metres is ``value / 255 * depth_max_m``
(10 m: the demo set, and LoadDepthFromFile's default ``raw_depth_range`` of 0..10000 mm).

Sizes in pixels are given for a 640-pixel-wide image (the Kinect / RealSense resolution) and scaled with the
image's width. The parameters of each severity, and the sensor behaviour they model, are in
:data:`CORRUPTIONS` (docs/robustness.md has them as a table).

Randomness is seeded by (``seed``, corruption name, the image's pixels), never by the sample's position or
the process that loads it, so a corrupted image is the same on every run, in every order and with any number
of workers or MPI processes. The severity is not part of the seed: the severities of one image share their
random draws (the same noise pattern, hole field, shift direction), so a higher severity is the same damage,
stronger.
"""
import hashlib
import math
import zlib
from dataclasses import dataclass
from typing import Callable, Tuple

import cv2
import numpy as np

from ...registry import PIPELINES
from .compose import BaseTransform

SEVERITIES = (1, 2, 3, 4, 5)
REFERENCE_WIDTH = 640
# A depth edge: a neighbour farther by more than 10% and more than 10 cm (a receding floor is no edge).
EDGE_JUMP_RATIO = 0.1
EDGE_JUMP_M = 0.1
HOLE_FIELD_CELLS = (9, 12)  # the random hole field: smooth noise over this grid, so blobs are ~1/10 of the image
SRGB_GAMMA = 2.2


@dataclass(frozen=True)
class Corruption:
    """One corruption: what it models, its parameter per severity (1..5) and how it is applied.

    ``apply`` returns the corrupted image (RGB corruptions: ``apply(image, parameter, rng, context)``) or depth map
    (``apply(depth, parameter, rng, context)``); the corruptions of :data:`_ON_METRES` get the depth in metres and
    its measured pixels, ``apply(z, measured, parameter, rng, context)``, and return new depths or the mask of the
    pixels that keep their measurement.
    """
    modality: str  # 'depth' | 'rgb'
    models: str
    parameter: str
    levels: Tuple
    apply: Callable


def _scaled_pixels(value_at_640, width):
    return value_at_640 * width / REFERENCE_WIDTH


# ---------------------------------------------------------------------- depth corruptions
def _edge_holes(z, measured, width_640, rng, context):
    """Holes on the far side of depth edges, ``width`` pixels wide (the projector's occlusion shadow)."""
    width = max(1.0, _scaled_pixels(width_640, z.shape[1]))
    farthest_neighbour = cv2.dilate(np.where(measured, z, 0).astype(np.float32), np.ones((3, 3), np.uint8))
    near_side = measured & (farthest_neighbour - z > np.maximum(EDGE_JUMP_RATIO * z, EDGE_JUMP_M))
    if not near_side.any():
        return measured
    # Each pixel's nearest near-side edge pixel (labels count the zero pixels row by row, from 1).
    distance, labels = cv2.distanceTransformWithLabels((~near_side).astype(np.uint8), cv2.DIST_L2, 5,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
    edge_depth = z[near_side][labels - 1]
    behind = z - edge_depth > np.maximum(EDGE_JUMP_RATIO * edge_depth, EDGE_JUMP_M)
    return measured & ~(behind & (distance <= width))


def _hole_blobs(z, measured, fraction, rng, context):
    """Random blobs covering ``fraction`` of the image (surfaces that return no signal)."""
    cells = rng.standard_normal(HOLE_FIELD_CELLS).astype(np.float32)
    field = cv2.resize(cells, (z.shape[1], z.shape[0]), interpolation=cv2.INTER_CUBIC)
    holes = field >= np.quantile(field, 1.0 - fraction)
    return measured & ~holes


def _depth_noise(z, measured, k, rng, context):
    """Gaussian noise with sigma = k * z^2 (metres), the error model of structured-light and stereo sensors."""
    noisy = z + k * z * z * rng.standard_normal(z.shape).astype(np.float32)
    return np.where(measured, np.clip(noisy, 0.0, context['depth_max_m']), z)


def _disparity_quantisation(z, measured, step, rng, context):
    """Round the inverse depth to multiples of ``step`` (1/m): depth levels z^2 * step apart."""
    inverse = np.divide(1.0, z, out=np.zeros_like(z), where=measured & (z > 0))
    levels = np.round(inverse / step) * step
    quantised = np.divide(1.0, levels, out=np.full_like(z, context['depth_max_m']), where=levels > 0)
    return np.where(measured, np.minimum(quantised, context['depth_max_m']), z)


def _depth_scale(z, measured, factor, rng, context):
    """Every depth times ``factor`` (a wrong depth unit or scale)."""
    return np.where(measured, np.minimum(z * factor, context['depth_max_m']), z)


def _misalignment(depth, shift_and_angle, rng, context):
    """The depth map shifted by ``shift`` pixels in a random direction and rotated by ``angle`` degrees about the
    centre (a random sign); uncovered pixels have no measurement."""
    shift_640, angle = shift_and_angle
    height, width = depth.shape[:2]
    direction = rng.uniform(0.0, 2.0 * math.pi)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    shift = _scaled_pixels(shift_640, width)
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), sign * angle, 1.0)
    matrix[:, 2] += (shift * math.cos(direction), shift * math.sin(direction))
    moved = cv2.warpAffine(depth, matrix, (width, height), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(float(context['missing_value']),) * 4)
    return moved.reshape(depth.shape)


def _missing_depth(depth, probability, rng, context):
    """The whole map replaced by the missing-depth value, for a fraction ``probability`` of the images."""
    if rng.random() < probability:
        return np.full(depth.shape, context['missing_value'], dtype=np.float32)
    return depth


# ---------------------------------------------------------------------- RGB corruptions
def _to_uint8(image):
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _rgb_noise(image, sigma, rng, context):
    """Gaussian noise of standard deviation ``sigma`` (0..255 units) on every channel."""
    return _to_uint8(image + sigma * rng.standard_normal(image.shape).astype(np.float32))


def _motion_blur(image, length_640, rng, context):
    """A straight motion blur: the image moves ``length`` pixels in a random direction during the exposure."""
    length = _scaled_pixels(length_640, image.shape[1])
    angle = rng.uniform(0.0, math.pi)
    radius = int(math.ceil(length / 2)) + 1
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1), np.float64)
    # Bilinear weights of evenly spaced points along the path (a sub-pixel box filter along it).
    steps = np.linspace(-length / 2, length / 2, 8 * int(math.ceil(length)) + 1)
    x, y = radius + steps * math.cos(angle), radius + steps * math.sin(angle)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy),
                           (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    kernel = (kernel / kernel.sum()).astype(np.float32)
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)


def _low_light(image, gain, rng, context):
    """The exposure times ``gain``, in linear light (an sRGB gamma of 2.2), then back to 8 bits."""
    linear = (image.astype(np.float32) / 255.0) ** SRGB_GAMMA
    return _to_uint8(255.0 * (linear * gain) ** (1.0 / SRGB_GAMMA))


def _jpeg(image, quality, rng, context):
    """Encoded and decoded as JPEG at ``quality``."""
    bgr = image[:, :, ::-1] if context['color_order'] == 'rgb' else image
    ok, encoded = cv2.imencode('.jpg', np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError('OpenCV could not encode the image as JPEG')
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return decoded[:, :, ::-1].copy() if context['color_order'] == 'rgb' else decoded


CORRUPTIONS = {
    'edge_holes': Corruption(
        'depth', 'no depth on the far side of depth edges, where the projector or the second camera is occluded '
        '(structured light, stereo, time-of-flight flying pixels)', 'hole width (px at 640 wide)',
        (2, 4, 8, 14, 24), _edge_holes),
    'hole_blobs': Corruption(
        'depth', 'random blobs without depth: dark, shiny or transparent surfaces and sunlight return no signal',
        'share of the image', (0.02, 0.05, 0.1, 0.2, 0.35), _hole_blobs),
    'depth_noise': Corruption(
        'depth', 'noise that grows with the square of the distance (Kinect v1: sigma = 1.5 mm at 1 m, 3.7 cm at '
        '5 m)', 'k in sigma = k z^2 (1/m)', (0.0015, 0.003, 0.006, 0.012, 0.024), _depth_noise),
    'misalignment': Corruption(
        'depth', 'depth not registered to the RGB image: a calibration error or a time offset between the two '
        'cameras', '(shift px at 640 wide, rotation degrees)', ((2, 0.0), (4, 0.5), (8, 1.0), (12, 1.5), (20, 2.5)),
        _misalignment),
    'quantisation': Corruption(
        'depth', 'coarse disparity steps (Kinect v1: depth levels about 7 cm apart at 5 m); the levels grow apart '
        'with z^2', 'inverse-depth step (1/m)', (0.0028, 0.0056, 0.011, 0.023, 0.046), _disparity_quantisation),
    'depth_scale': Corruption(
        'depth', 'a wrong depth unit or scale (0.2: millimetres read with the 5000 units per metre of TUM RGB-D)',
        'depth factor', (0.95, 0.9, 0.8, 0.5, 0.2), _depth_scale),
    'missing_depth': Corruption(
        'depth', 'no depth at all (a sensor failure, out of range, or an RGB-only camera): the map gets the '
        'missing-depth value', 'share of the images', (0.2, 0.4, 0.6, 0.8, 1.0), _missing_depth),
    'rgb_noise': Corruption(
        'rgb', 'sensor noise (high ISO, small sensors)', 'sigma (0..255)', (5, 10, 20, 30, 45), _rgb_noise),
    'motion_blur': Corruption(
        'rgb', 'a camera moving during the exposure (a robot or a hand-held sensor)', 'blur length (px at 640 wide)',
        (3, 6, 10, 16, 24), _motion_blur),
    'low_light': Corruption(
        'rgb', 'under-exposure: a dark room or a short exposure, quantised to 8 bits', 'exposure factor',
        (0.5, 0.3, 0.18, 0.1, 0.05), _low_light),
    'jpeg': Corruption(
        'rgb', 'JPEG compression of a streamed or stored image', 'JPEG quality', (40, 25, 15, 10, 5), _jpeg),
}
DEPTH_CORRUPTIONS = tuple(name for name, c in CORRUPTIONS.items() if c.modality == 'depth')
RGB_CORRUPTIONS = tuple(name for name, c in CORRUPTIONS.items() if c.modality == 'rgb')
# Corruptions computed on a single-channel depth map in metres (new depths, or a mask of the pixels to keep).
_ON_METRES = {'edge_holes', 'hole_blobs', 'depth_noise', 'quantisation', 'depth_scale'}


def corruption_names(corruption):
    """The corruption names in ``corruption`` ('name', 'a+b' or a list of names), each checked."""
    names = corruption.split('+') if isinstance(corruption, str) else list(corruption)
    if not names:
        raise ValueError('no corruption named')
    for name in names:
        if name not in CORRUPTIONS:
            raise ValueError(f'unknown corruption {name!r}; known: depth: {", ".join(DEPTH_CORRUPTIONS)}; '
                             f'RGB: {", ".join(RGB_CORRUPTIONS)} (join several with "+")')
    return names


def check_severity(severity):
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or severity not in SEVERITIES:
        raise ValueError(f'severity must be an integer from {SEVERITIES[0]} to {SEVERITIES[-1]}, got {severity!r}')
    return int(severity)


def _image_key(image):
    """A 64-bit number of the image's pixels and shape: the same image gives the same number in any process."""
    digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=8)
    digest.update(repr(image.shape).encode())
    return int.from_bytes(digest.digest(), 'little')


@PIPELINES.register_module()
class Corrupt(BaseTransform):
    """Apply the corruption(s) ``corruption`` at ``severity`` (1..5) to a loaded sample (see the module doc).

    Args:
        corruption: a name of :data:`CORRUPTIONS`, several joined by '+' (applied in that order), or a list.
        severity: 1 (mild) .. 5 (severe).
        seed: with the image's pixels and the corruption name, it seeds the random draws.
        depth_max_m: the metres that the loaded depth's 255 stands for.
    """

    def __init__(self, corruption, severity, seed=0, depth_max_m=10.0):
        self.corruption = '+'.join(corruption_names(corruption))
        self.severity = check_severity(severity)
        self.seed = int(seed)
        if not (math.isfinite(float(depth_max_m)) and float(depth_max_m) > 0):
            raise ValueError(f'depth_max_m must be a positive number of metres, got {depth_max_m!r}')
        self.depth_max_m = float(depth_max_m)

    def _rng(self, name, image_key):
        return np.random.default_rng([self.seed, zlib.crc32(name.encode()), image_key])

    def transform(self, results):
        if 'img' not in results:
            raise KeyError('Corrupt needs the loaded image: put it after LoadImageFromFile')
        if results['img'].dtype != np.uint8 or results.get('depth_normalized'):
            raise ValueError('Corrupt must come before Normalize: it works on the uint8 image and the 0..255 depth')
        image_key = _image_key(results['img'])
        context = dict(depth_max_m=self.depth_max_m, color_order=results.get('color_order', 'bgr'),
                       missing_value=float(results.get('depth_missing_value', 0.0)))
        for name in self.corruption.split('+'):
            corruption = CORRUPTIONS[name]
            parameter = corruption.levels[self.severity - 1]
            rng = self._rng(name, image_key)
            if corruption.modality == 'rgb':
                results['img'] = corruption.apply(results['img'], parameter, rng, context)
            else:
                results['depth'] = self._corrupt_depth(results, name, corruption, parameter, rng, context)
        return results

    def _corrupt_depth(self, results, name, corruption, parameter, rng, context):
        if 'depth' not in results or 'depth_missing_value' not in results:
            raise KeyError(f'the depth corruption {name!r} needs the depth: put Corrupt after LoadDepthFromFile')
        depth = results['depth']
        if name not in _ON_METRES:
            return corruption.apply(depth.astype(np.float32), parameter, rng, context)
        if depth.ndim == 3 and depth.shape[2] != 1:
            raise ValueError(f'the depth corruption {name!r} needs a single-channel depth map, got {depth.shape[2]} '
                             f'channels (an HHA or colour second modality)')
        values = depth.reshape(depth.shape[:2]).astype(np.float32)
        measured = values != context['missing_value']
        z = values * np.float32(self.depth_max_m / 255.0)
        changed = corruption.apply(z, measured, parameter, rng, context)
        if changed.dtype == bool:  # a hole mask: the pixels that keep their measurement
            out = np.where(changed, values, context['missing_value'])
        else:
            out = np.where(measured, changed * np.float32(255.0 / self.depth_max_m), values)
        return out.astype(np.float32).reshape(depth.shape)


LOADING_TRANSFORMS = ('LoadImageFromFile', 'LoadDepthFromFile')


def with_corruption(pipeline, corruption, severity, seed=0, depth_max_m=10.0):
    """A copy of the transform list ``pipeline`` (config dicts) with ``Corrupt`` right after its last loading
    transform (LoadImageFromFile / LoadDepthFromFile): the corruption sees the sample as the sensor gave it,
    before any resizing, normalisation or packing."""
    names = corruption_names(corruption)
    check_severity(severity)
    types = [step.get('type') if isinstance(step, dict) else None for step in pipeline]
    if 'LoadImageFromFile' not in types:
        raise ValueError('the pipeline has no LoadImageFromFile, so there is no loaded sample to corrupt')
    if any(CORRUPTIONS[name].modality == 'depth' for name in names) and 'LoadDepthFromFile' not in types:
        raise ValueError(f'{"+".join(names)} corrupts the depth, but the pipeline has no LoadDepthFromFile')
    position = max(i for i, t in enumerate(types) if t in LOADING_TRANSFORMS) + 1
    step = dict(type='Corrupt', corruption='+'.join(names), severity=int(severity), seed=int(seed),
                depth_max_m=float(depth_max_m))
    return [dict(t) if isinstance(t, dict) else t for t in pipeline[:position]] + [step] + [
        dict(t) if isinstance(t, dict) else t for t in pipeline[position:]]
