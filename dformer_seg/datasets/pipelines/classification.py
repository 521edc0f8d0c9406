"""Transforms of RGB-D image classification (pretraining): joint crops, RGB-only colour changes,
random erasing and packing with a class label. Random draws come from ``current_rng()``."""
import logging
import math

import cv2
import numpy as np

from ...registry import PIPELINES
from .compose import BaseTransform
from .formatting import pack_rgbd
from .loading import LoadDepthFromFile
from .photometric import _require_uint8_img
from .rng import current_rng

logger = logging.getLogger('dformer_seg')

CLS_META_KEYS = ('img_path', 'depth_path', 'ori_shape', 'img_shape', 'flip', 'sample_idx', 'color_order')
INTERPOLATIONS = {'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC, 'nearest': cv2.INTER_NEAREST}


def _size_pair(size, name):
    pair = (size, size) if isinstance(size, int) else tuple(int(v) for v in size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f'{name} must be a positive int or (h, w), got {size!r}')
    return pair


def _resize_image_fields(results, box, size_hw, interpolation):
    """Crop ``box`` (y, x, h, w) out of every image field and resize it to ``size_hw``."""
    y, x, h, w = box
    for key in results.get('img_fields', []):
        array = results[key][y:y + h, x:x + w]
        resized = cv2.resize(array, (size_hw[1], size_hw[0]), interpolation=interpolation)
        results[key] = resized.reshape(size_hw + array.shape[2:])
    results['img_shape'] = tuple(size_hw)


@PIPELINES.register_module()
class LoadDepthAnySize(LoadDepthFromFile):
    """:class:`LoadDepthFromFile` that resizes (bilinear) a depth map of another size than its RGB image
    to the image, instead of stopping: estimated depth of an image set often comes at the estimator's
    resolution. The first resize in each process is logged once."""

    _resize_logged = False

    def transform(self, results):
        expected = tuple(results['ori_shape'])
        depth_path = results.get('depth_path')
        depth = self._from_file(depth_path)
        if tuple(depth.shape[:2]) != expected:
            if not LoadDepthAnySize._resize_logged:
                LoadDepthAnySize._resize_logged = True
                logger.warning(f'{self.modality} file {depth_path} is {depth.shape[0]}x{depth.shape[1]} (HxW) but '
                               f'its image is {expected[0]}x{expected[1]}; resizing {self.modality} maps to their '
                               f'images (said once)')
            channels = depth.shape[2:]
            depth = cv2.resize(depth, (expected[1], expected[0]), interpolation=cv2.INTER_LINEAR)
            depth = depth.reshape(expected + channels)
        results.update(depth=depth, depth_channels=self.channels, depth_missing=False,
                       depth_missing_value=self.missing_value)
        fields = results.setdefault('img_fields', [])
        if 'depth' not in fields:
            fields.append('depth')
        return results


@PIPELINES.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area fraction ``scale`` with aspect ratio in ``ratio`` (log-uniform) and resize it to
    ``size``, the same box for RGB and depth (torchvision's / timm's algorithm: 10 tries, then a central
    crop clamped to ``ratio``)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation='bilinear', max_tries=10):
        self.size = _size_pair(size, 'size')
        self.scale = tuple(float(v) for v in scale)
        self.ratio = tuple(float(v) for v in ratio)
        if not 0 < self.scale[0] <= self.scale[1] <= 1 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f'need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1], got '
                             f'scale={scale}, ratio={ratio}')
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}')
        self.interpolation = interpolation
        self.max_tries = int(max_tries)

    def draw_box(self, rng, height, width):
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.max_tries):
            target_area = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def transform(self, results):
        height, width = results['img'].shape[:2]
        box = self.draw_box(current_rng(), height, width)
        _resize_image_fields(results, box, self.size, INTERPOLATIONS[self.interpolation])
        return results


@PIPELINES.register_module()
class CenterCropResize(BaseTransform):
    """Evaluation view: resize the shorter side to ``size / crop_pct`` and cut the central ``size`` (timm's
    eval transform, ``crop_pct`` 0.875), RGB and depth alike."""

    def __init__(self, size, crop_pct=0.875, interpolation='bilinear'):
        self.size = _size_pair(size, 'size')
        if not 0 < crop_pct <= 1:
            raise ValueError(f'crop_pct must be in (0, 1], got {crop_pct}')
        self.crop_pct = float(crop_pct)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}')
        self.interpolation = interpolation

    def transform(self, results):
        height, width = results['img'].shape[:2]
        # The crop in input pixels that becomes ``size`` after scaling the shorter side to size / crop_pct.
        scale = min(height / (self.size[0] / self.crop_pct), width / (self.size[1] / self.crop_pct))
        h, w = min(height, int(round(self.size[0] * scale))), min(width, int(round(self.size[1] * scale)))
        box = ((height - h) // 2, (width - w) // 2, h, w)
        _resize_image_fields(results, box, self.size, INTERPOLATIONS[self.interpolation])
        return results


@PIPELINES.register_module()
class ColorJitter(BaseTransform):
    """torchvision's ColorJitter on the RGB image only (depth is a measurement): brightness, contrast and
    saturation factors uniform in ``[1 - v, 1 + v]``, hue shift uniform in ``[-hue, hue]`` (fraction of a
    turn), applied in a random order."""

    def __init__(self, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.0):
        for value, name, top in ((brightness, 'brightness', None), (contrast, 'contrast', None),
                                 (saturation, 'saturation', None), (hue, 'hue', 0.5)):
            if value < 0 or (top is not None and value > top):
                raise ValueError(f'{name} must be >= 0{" and <= " + str(top) if top else ""}, got {value}')
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def transform(self, results):
        img = _require_uint8_img(results, 'ColorJitter').astype(np.float32)
        rng = current_rng()
        to_gray = cv2.COLOR_RGB2GRAY if results.get('color_order') == 'rgb' else cv2.COLOR_BGR2GRAY
        for op in rng.permutation(4):
            if op == 0 and self.brightness:
                img = img * rng.uniform(1 - self.brightness, 1 + self.brightness)
            elif op == 1 and self.contrast:
                mean = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), to_gray).mean()
                img = mean + (img - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast)
            elif op == 2 and self.saturation:
                gray = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), to_gray).astype(np.float32)[..., None]
                img = gray + (img - gray) * rng.uniform(1 - self.saturation, 1 + self.saturation)
            elif op == 3 and self.hue:
                img = _shift_hue(np.clip(img, 0, 255).astype(np.uint8), rng.uniform(-self.hue, self.hue),
                                 results.get('color_order')).astype(np.float32)
            img = np.clip(img, 0, 255)
        results['img'] = img.astype(np.uint8)
        return results


def _shift_hue(img, turns, color_order):
    to_hsv, from_hsv = ((cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB) if color_order == 'rgb'
                        else (cv2.COLOR_BGR2HSV, cv2.COLOR_HSV2BGR))
    hsv = cv2.cvtColor(img, to_hsv)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + int(round(turns * 180))) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, from_hsv)


@PIPELINES.register_module()
class RandomErasing(BaseTransform):
    """timm's RandomErasing after Normalize, on RGB and depth together (RGBD-Pretrain erases the
    normalised 4-channel input): with probability ``prob`` a box of area fraction in ``area`` and aspect
    ratio log-uniform in ``[min_aspect, 1 / min_aspect]`` is filled with per-pixel normal noise
    (``mode='pixel'``), one normal value per channel ('rand') or zeros ('const')."""

    MODES = ('pixel', 'rand', 'const')

    def __init__(self, prob=0.25, mode='pixel', area=(0.02, 1 / 3), min_aspect=0.3, max_tries=10):
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        if not 0 <= prob <= 1 or not 0 < area[0] <= area[1] <= 1 or not 0 < min_aspect <= 1:
            raise ValueError(f'need 0 <= prob <= 1, 0 < area[0] <= area[1] <= 1, 0 < min_aspect <= 1; got '
                             f'{prob}, {area}, {min_aspect}')
        self.prob, self.mode = float(prob), mode
        self.area = tuple(float(v) for v in area)
        self.min_aspect, self.max_tries = float(min_aspect), int(max_tries)

    def _fill(self, rng, shape):
        if self.mode == 'pixel':
            return rng.standard_normal(shape).astype(np.float32)
        if self.mode == 'rand':
            return np.broadcast_to(rng.standard_normal(shape[-1:]).astype(np.float32), shape)
        return np.zeros(shape, np.float32)

    def transform(self, results):
        rng = current_rng()
        if rng.random() >= self.prob:
            return results
        if results['img'].dtype == np.uint8:
            raise ValueError('RandomErasing works on the normalised image: put it after Normalize')
        height, width = results['img'].shape[:2]
        log_aspect = (math.log(self.min_aspect), -math.log(self.min_aspect))
        for _ in range(self.max_tries):
            target = height * width * rng.uniform(*self.area)
            aspect = math.exp(rng.uniform(*log_aspect))
            h, w = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
            if 0 < h < height and 0 < w < width:
                y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
                for key in ('img', 'depth'):
                    if key in results:
                        array = results[key].reshape(height, width, -1)
                        array[y:y + h, x:x + w] = self._fill(rng, (h, w, array.shape[2]))
                break
        return results


@PIPELINES.register_module()
class PackClsInputs(BaseTransform):
    """-> ``dict(img=CHW float32, depth=CHW float32, gt_label=int64 scalar, img_metas=dict(...))``."""

    def __init__(self, meta_keys=CLS_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results):
        packed = pack_rgbd(results, self.meta_keys)
        if 'gt_label' in results:
            packed['gt_label'] = np.asarray(results['gt_label'], dtype=np.int64)
        return packed
