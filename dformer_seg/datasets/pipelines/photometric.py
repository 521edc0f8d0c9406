"""Photometric transforms: colour jitter on the RGB image and normalization."""
import cv2
import numpy as np

from ...registry import PIPELINES
from .compose import BaseTransform
from .rng import current_rng


def _require_uint8_img(results, name):
    img = results['img']
    if img.dtype != np.uint8:
        raise ValueError(f'{name} expects the uint8 image from LoadImageFromFile; got {img.dtype} '
                         f'(put {name} before Normalize)')
    return img


@PIPELINES.register_module()
class PhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation and hue changes of the RGB image only
    (depth is a measurement, not a colour). Each change happens with probability 0.5;
    contrast is applied before or after the HSV changes at random."""

    def __init__(self, brightness_delta=32, contrast_range=(0.5, 1.5), saturation_range=(0.5, 1.5),
                 hue_delta=18):
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta

    @staticmethod
    def _affine(img, alpha=1.0, beta=0.0):
        return np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    def transform(self, results):
        img = _require_uint8_img(results, 'PhotoMetricDistortion')
        rng = current_rng()
        if rng.integers(2):
            img = self._affine(img, beta=rng.uniform(-self.brightness_delta, self.brightness_delta))
        contrast_first = bool(rng.integers(2))
        if contrast_first and rng.integers(2):
            img = self._affine(img, alpha=rng.uniform(*self.contrast_range))

        to_hsv, from_hsv = ((cv2.COLOR_RGB2HSV, cv2.COLOR_HSV2RGB) if results.get('color_order') == 'rgb'
                            else (cv2.COLOR_BGR2HSV, cv2.COLOR_HSV2BGR))
        change_saturation, change_hue = rng.integers(2), rng.integers(2)
        if change_saturation or change_hue:
            hsv = cv2.cvtColor(img, to_hsv).astype(np.int32)
            if change_saturation:
                factor = rng.uniform(*self.saturation_range)
                hsv[:, :, 1] = np.clip(hsv[:, :, 1] * factor, 0, 255)
            if change_hue:  # OpenCV's uint8 hue is 0..179
                hsv[:, :, 0] = (hsv[:, :, 0] + int(rng.integers(-self.hue_delta, self.hue_delta + 1))) % 180
            img = cv2.cvtColor(hsv.astype(np.uint8), from_hsv)

        if not contrast_first and rng.integers(2):
            img = self._affine(img, alpha=rng.uniform(*self.contrast_range))
        results['img'] = img
        return results


def _per_channel(values, name):
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        raise ValueError(f'{name} must be a number or a list of numbers, got {values!r}')
    return values


def normalize_array(array, mean, std):
    """float32((x - mean) / std), computed in float64 like the official ``normalize``.

    ``mean``/``std`` have one value per channel in the array's stored order
    (or a single value for all; equal values are also accepted for a
    single-channel array). uint8 input goes through a per-channel lookup table
    built with the same float64 formula, which is exact and fast.
    """
    channels = array.shape[2] if array.ndim == 3 else 1
    mean, std = (_fit_channels(v, channels, name) for v, name in ((mean, 'mean'), (std, 'std')))
    if array.dtype == np.uint8:
        table = ((np.arange(256, dtype=np.float64)[:, None] - mean) / std).astype(np.float32)
        out = cv2.LUT(array, table.reshape(256, 1, channels))
        return out.reshape(array.shape)
    return ((array.astype(np.float64) - mean) / std).astype(np.float32)


def _fit_channels(values, channels, name):
    if len(values) == channels:
        return values
    if len(values) == 1 or (channels == 1 and np.all(values == values[0])):
        return np.full(channels, values[0])
    raise ValueError(f'{name} has {len(values)} values but the array has {channels} channel(s)')


@PIPELINES.register_module()
class Normalize(BaseTransform):
    """Normalize the RGB image and the depth with separate statistics, in 0..255 units.

    The official code computes ``(x / 255 - m) / s``; with ``mean = m * 255``
    and ``std = s * 255`` this gives the same float32 values (checked for every
    uint8 input). ImageNet: mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375]; depth: 0.48 * 255 = 122.4, 0.28 * 255 = 71.4.
    The i-th mean/std value applies to the i-th stored channel: there is no
    colour swap here (the official BGR checkpoints used the ImageNet values in
    that stored order).
    """

    def __init__(self, mean, std, depth_mean=None, depth_std=None):
        self.mean = _per_channel(mean, 'mean')
        self.std = _per_channel(std, 'std')
        if (depth_mean is None) != (depth_std is None):
            raise ValueError('give both depth_mean and depth_std, or neither')
        self.depth_mean = None if depth_mean is None else _per_channel(depth_mean, 'depth_mean')
        self.depth_std = None if depth_std is None else _per_channel(depth_std, 'depth_std')
        for values, name in ((self.std, 'std'), (self.depth_std, 'depth_std')):
            if values is not None and np.any(values == 0):
                raise ValueError(f'{name} must not contain 0')

    def transform(self, results):
        results['img'] = normalize_array(results['img'], self.mean, self.std)
        if 'depth' in results and self.depth_mean is not None:
            results['depth'] = normalize_array(results['depth'], self.depth_mean, self.depth_std)
            results['depth_normalized'] = True
        elif 'depth' in results:
            results['depth'] = results['depth'].astype(np.float32)
        return results

    def denormalize(self, array, key='img'):
        """Map a normalized HWC array back to 0..255 (used by the browse tool)."""
        mean, std = (self.mean, self.std) if key == 'img' else (self.depth_mean, self.depth_std)
        if mean is None:
            return array.astype(np.float32)
        return (array.astype(np.float64) * std + mean).astype(np.float32)
