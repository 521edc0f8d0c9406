"""RandAugment as RGBD-Pretrain runs it (timm's ``rand-m9-mstd0.5-inc1``), with OpenCV on uint8 arrays.

``num_ops`` operations are drawn with replacement from timm's "increasing" set; each runs with
probability ``prob`` at a magnitude drawn from ``N(magnitude, magnitude_std)`` clipped to 0..10.
Colour operations change the RGB image only. Geometric ones (rotate, shear, translate) move RGB and
depth with the same matrix, as RGBD-Pretrain does; the uncovered border gets ``fill`` (the ImageNet
mean colour in RGB order, timm's ``img_mean``) in the image and ``depth_fill`` in the depth (117: the
grey level of that colour, which RGBD-Pretrain's depth gets by warping it as an RGB image filled with it).
"""
import cv2
import numpy as np

from ...registry import PIPELINES
from .compose import BaseTransform
from .photometric import _require_uint8_img
from .rng import current_rng

MAX_LEVEL = 10.0
INCREASING_OPS = ('AutoContrast', 'Equalize', 'Invert', 'Rotate', 'PosterizeIncreasing', 'SolarizeIncreasing',
                  'SolarizeAdd', 'ColorIncreasing', 'ContrastIncreasing', 'BrightnessIncreasing',
                  'SharpnessIncreasing', 'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel')
GEOMETRIC_OPS = ('Rotate', 'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel')
SMOOTH_KERNEL = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0  # PIL's ImageFilter.SMOOTH


def _signed(rng, value):
    return -value if rng.random() < 0.5 else value


def _blend(degenerate, img, factor):
    """PIL's ImageEnhance: ``degenerate + factor * (img - degenerate)``, clipped to uint8."""
    out = degenerate.astype(np.float32) + factor * (img.astype(np.float32) - degenerate)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _gray(img, color_order):
    code = cv2.COLOR_RGB2GRAY if color_order == 'rgb' else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(img, code)


def _autocontrast(img):
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        low, high = int(img[..., c].min()), int(img[..., c].max())
        if high > low:
            lut = np.clip((np.arange(256) - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
            out[..., c] = cv2.LUT(img[..., c], lut)
        else:
            out[..., c] = img[..., c]
    return out


def _color_op(name, img, level, rng, color_order):
    """One colour operation at ``level`` (0..10) on an HxWx3 uint8 image."""
    if name == 'AutoContrast':
        return _autocontrast(img)
    if name == 'Equalize':
        return np.stack([cv2.equalizeHist(np.ascontiguousarray(img[..., c])) for c in range(3)], axis=2)
    if name == 'Invert':
        return 255 - img
    if name == 'PosterizeIncreasing':
        bits = 4 - int(level / MAX_LEVEL * 4)
        return img & np.uint8((0xFF << (8 - max(bits, 1))) & 0xFF)
    if name == 'SolarizeIncreasing':
        threshold = 256 - int(level / MAX_LEVEL * 256)
        return np.where(img >= threshold, 255 - img, img)
    if name == 'SolarizeAdd':
        add = int(level / MAX_LEVEL * 110)
        return np.where(img < 128, np.minimum(img.astype(np.int32) + add, 255), img).astype(np.uint8)
    factor = 1.0 + _signed(rng, level / MAX_LEVEL * 0.9)
    if name == 'ColorIncreasing':
        return _blend(np.repeat(_gray(img, color_order)[..., None], 3, axis=2), img, factor)
    if name == 'ContrastIncreasing':
        mean = float(int(_gray(img, color_order).mean() + 0.5))
        return _blend(np.full_like(img, mean, dtype=np.float32), img, factor)
    if name == 'BrightnessIncreasing':
        return _blend(np.zeros_like(img, dtype=np.float32), img, factor)
    if name == 'SharpnessIncreasing':
        smooth = cv2.filter2D(img.astype(np.float32), -1, SMOOTH_KERNEL, borderType=cv2.BORDER_REPLICATE)
        smooth[0, :], smooth[-1, :], smooth[:, 0], smooth[:, -1] = img[0, :], img[-1, :], img[:, 0], img[:, -1]
        return _blend(smooth, img, factor)
    raise KeyError(f'unknown RandAugment operation {name!r}')


def _affine_matrix(name, level, rng, height, width):
    """The 2x3 matrix (output pixel <- input pixel) of one geometric operation."""
    if name == 'Rotate':
        return cv2.getRotationMatrix2D((width / 2.0, height / 2.0), _signed(rng, level / MAX_LEVEL * 30.0), 1.0)
    if name in ('ShearX', 'ShearY'):
        shear = _signed(rng, level / MAX_LEVEL * 0.3)
        # PIL's transform maps output to input; this is its inverse, which warpAffine wants.
        return np.float32([[1, -shear, 0], [0, 1, 0]]) if name == 'ShearX' else np.float32([[1, 0, 0], [-shear, 1, 0]])
    shift = _signed(rng, level / MAX_LEVEL * 0.45)
    if name == 'TranslateXRel':
        return np.float32([[1, 0, -shift * width], [0, 1, 0]])
    return np.float32([[1, 0, 0], [0, 1, -shift * height]])


@PIPELINES.register_module()
class RandAugment(BaseTransform):
    """See the module docstring. Defaults: ``rand-m9-mstd0.5-inc1`` (2 operations, magnitude 9, std 0.5,
    probability 0.5 each)."""

    def __init__(self, num_ops=2, magnitude=9.0, magnitude_std=0.5, prob=0.5, ops=INCREASING_OPS,
                 fill=(124, 116, 104), depth_fill=117.0):
        unknown = sorted(set(ops) - set(INCREASING_OPS))
        if unknown or not ops:
            raise ValueError(f'unknown RandAugment operations {unknown}; choose from {INCREASING_OPS}')
        if num_ops < 1 or not 0 <= magnitude <= MAX_LEVEL or magnitude_std < 0 or not 0 <= prob <= 1:
            raise ValueError(f'need num_ops >= 1, 0 <= magnitude <= {MAX_LEVEL}, magnitude_std >= 0, '
                             f'0 <= prob <= 1; got {num_ops}, {magnitude}, {magnitude_std}, {prob}')
        self.num_ops, self.magnitude, self.magnitude_std, self.prob = int(num_ops), magnitude, magnitude_std, prob
        self.ops = tuple(ops)
        self.fill = tuple(int(v) for v in fill)
        self.depth_fill = float(depth_fill)

    def _warp(self, results, matrix, img_fill):
        height, width = results['img'].shape[:2]
        for key in results.get('img_fields', []):
            array = results[key]
            fill = img_fill if key == 'img' else (self.depth_fill,) * 4
            warped = cv2.warpAffine(array, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
            results[key] = warped.reshape(array.shape)

    def transform(self, results):
        _require_uint8_img(results, 'RandAugment')
        rng = current_rng()
        color_order = results.get('color_order', 'bgr')
        fill = self.fill if color_order == 'rgb' else self.fill[::-1]
        for index in rng.integers(0, len(self.ops), size=self.num_ops):
            name = self.ops[int(index)]
            if rng.random() >= self.prob:
                continue
            level = rng.normal(self.magnitude, self.magnitude_std) if self.magnitude_std else self.magnitude
            level = float(np.clip(level, 0.0, MAX_LEVEL))
            if name in GEOMETRIC_OPS:
                self._warp(results, _affine_matrix(name, level, rng, *results['img'].shape[:2]), fill)
            else:
                results['img'] = np.ascontiguousarray(_color_op(name, results['img'], level, rng, color_order))
        return results
