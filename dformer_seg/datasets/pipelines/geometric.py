"""Geometric transforms. Each moves every image field (bilinear) and every label
field (nearest) together, so RGB, depth and label stay pixel-aligned."""
import cv2
import numpy as np

from ...registry import PIPELINES
from ...utils.shapes import int_pair
from ..errors import DataError
from .compose import BaseTransform
from .rng import current_rng


def resize_array(array, size_hw, interpolation):
    """cv2.resize to (h, w) that keeps a trailing channel axis of length 1."""
    h, w = size_hw
    if h < 1 or w < 1:
        raise ValueError(f'cannot resize to {h}x{w}')
    out = cv2.resize(array, (w, h), interpolation=interpolation)
    if array.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def fit_size(size_hw, scale_hw):
    """The size of an image of ``size_hw`` rescaled, keeping its aspect ratio, to fit
    ``scale_hw`` (long edge within the long side, short edge within the short side)."""
    h, w = size_hw
    factor = min(max(scale_hw) / max(h, w), min(scale_hw) / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5), factor


def _resize_fields(results, size_hw):
    for key in results.get('img_fields', []):
        results[key] = resize_array(results[key], size_hw, cv2.INTER_LINEAR)
    for key in results.get('seg_fields', []):
        results[key] = resize_array(results[key], size_hw, cv2.INTER_NEAREST)
    results['img_shape'] = results['pad_shape'] = tuple(size_hw)


@PIPELINES.register_module()
class Resize(BaseTransform):
    """Resize to ``scale`` (h, w), keeping the aspect ratio (fit inside) when ``keep_ratio``.

    ``results['scale_factor']`` is multiplied by the applied factor (the height
    ratio when the aspect ratio is not kept).
    """

    def __init__(self, scale, keep_ratio=True):
        self.scale = int_pair(scale, 'scale')
        self.keep_ratio = keep_ratio

    def transform(self, results):
        h, w = results['img'].shape[:2]
        if self.keep_ratio:
            new_h, new_w, factor = fit_size((h, w), self.scale)
        else:
            (new_h, new_w), factor = self.scale, self.scale[0] / h
        _resize_fields(results, (new_h, new_w))
        results['scale_factor'] = float(results.get('scale_factor', 1.0) * factor)
        return results


@PIPELINES.register_module()
class RandomResize(BaseTransform):
    """Resize by a random ratio of a base size: (int(h * r), int(w * r)), as the official
    ``random_scale``.

    The ratio is drawn from ``ratios`` (a list, e.g. the official
    [0.5, 0.75, 1, 1.25, 1.5, 1.75]) or uniformly from ``ratio_range``. The
    base size is the image's own size (``scale=None``, the official
    behaviour) or ``scale`` (h, w), fitted to the image's aspect ratio when
    ``keep_ratio``.
    """

    def __init__(self, ratios=None, ratio_range=None, scale=None, keep_ratio=True):
        if (ratios is None) == (ratio_range is None):
            raise ValueError('RandomResize needs exactly one of ratios=[...] or ratio_range=(low, high)')
        if ratios is not None:
            ratios = [float(r) for r in ratios]
            if not ratios or min(ratios) <= 0:
                raise ValueError(f'ratios must be a non-empty list of positive numbers, got {ratios!r}')
        if ratio_range is not None:
            low, high = (float(v) for v in ratio_range)
            if not 0 < low <= high:
                raise ValueError(f'ratio_range must be (low, high) with 0 < low <= high, got {ratio_range!r}')
            ratio_range = (low, high)
        self.ratios = ratios
        self.ratio_range = ratio_range
        self.scale = None if scale is None else int_pair(scale, 'scale')
        self.keep_ratio = keep_ratio

    def _draw_ratio(self, rng):
        if self.ratios is not None:
            return self.ratios[int(rng.integers(len(self.ratios)))]
        return float(rng.uniform(*self.ratio_range))

    def transform(self, results):
        h, w = results['img'].shape[:2]
        if self.scale is None:
            base_h, base_w, base_factor = h, w, 1.0
        elif self.keep_ratio:
            base_h, base_w, base_factor = fit_size((h, w), self.scale)
        else:
            (base_h, base_w), base_factor = self.scale, self.scale[0] / h
        ratio = self._draw_ratio(current_rng())
        new_h, new_w = max(int(base_h * ratio), 1), max(int(base_w * ratio), 1)
        _resize_fields(results, (new_h, new_w))
        results['scale_factor'] = float(results.get('scale_factor', 1.0) * base_factor * ratio)
        return results


@PIPELINES.register_module()
class RandomCrop(BaseTransform):
    """Crop a random ``crop_size`` (h, w) window (smaller images keep that dimension whole;
    a later Pad brings them to the crop size).

    With ``cat_max_ratio < 1`` a crop in which one class covers at least that
    fraction of the labelled pixels (or only one class is present) is redrawn,
    up to ``max_tries`` times; the last draw is kept.
    """

    def __init__(self, crop_size, cat_max_ratio=1.0, ignore_index=None, max_tries=10):
        self.crop_size = int_pair(crop_size, 'crop_size')
        if min(self.crop_size) < 1:
            raise ValueError(f'crop_size must be positive, got {crop_size!r}')
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f'cat_max_ratio must be in (0, 1], got {cat_max_ratio!r}')
        self.cat_max_ratio = float(cat_max_ratio)
        self.ignore_index = ignore_index
        self.max_tries = int(max_tries)

    def _draw_box(self, rng, h, w):
        crop_h, crop_w = min(self.crop_size[0], h), min(self.crop_size[1], w)
        top = int(rng.integers(0, h - crop_h + 1))
        left = int(rng.integers(0, w - crop_w + 1))
        return top, top + crop_h, left, left + crop_w

    def _acceptable(self, label, ignore_index):
        values, counts = np.unique(label, return_counts=True)
        counts = counts[values != ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def transform(self, results):
        rng = current_rng()
        h, w = results['img'].shape[:2]
        box = self._draw_box(rng, h, w)
        if self.cat_max_ratio < 1.0 and 'gt_seg' in results:
            ignore_index = self.ignore_index if self.ignore_index is not None \
                else results.get('ignore_index', 255)
            for _ in range(self.max_tries - 1):
                top, bottom, left, right = box
                if self._acceptable(results['gt_seg'][top:bottom, left:right], ignore_index):
                    break
                box = self._draw_box(rng, h, w)
        top, bottom, left, right = box
        for key in results.get('img_fields', []) + results.get('seg_fields', []):
            results[key] = np.ascontiguousarray(results[key][top:bottom, left:right])
        results['img_shape'] = results['pad_shape'] = (bottom - top, right - left)
        return results


@PIPELINES.register_module()
class RandomFlip(BaseTransform):
    """Flip with probability ``prob`` ('horizontal' or 'vertical')."""

    def __init__(self, prob=0.5, direction='horizontal'):
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob!r}')
        self.prob = prob
        self.direction = direction

    def transform(self, results):
        flip = bool(current_rng().random() < self.prob)
        if flip:
            code = 1 if self.direction == 'horizontal' else 0
            for key in results.get('img_fields', []) + results.get('seg_fields', []):
                array = results[key]
                results[key] = cv2.flip(array, code).reshape(array.shape)
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results


@PIPELINES.register_module()
class Pad(BaseTransform):
    """Pad image fields with ``pad_val`` (a number, or a dict per field such as
    ``dict(img=0, depth=0)``) and label fields with ``seg_pad_val``, to ``size``
    (h, w) or up to a multiple of ``size_divisor``.

    ``position='bottom_right'`` keeps the image at the top-left (what test-time
    cropping of predictions assumes); ``'center'`` centres it like the
    official training crop (extra odd pixel at the bottom/right).
    ``img_shape`` stays the size before padding; ``pad_shape`` is the result.
    """

    def __init__(self, size=None, size_divisor=None, pad_val=0, seg_pad_val=255, position='bottom_right'):
        if (size is None) == (size_divisor is None):
            raise ValueError('Pad needs exactly one of size=(h, w) or size_divisor=int')
        if position not in ('bottom_right', 'center'):
            raise ValueError(f"position must be 'bottom_right' or 'center', got {position!r}")
        self.size = None if size is None else int_pair(size, 'size')
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.position = position

    def _target(self, h, w, results):
        if self.size is not None:
            th, tw = self.size
            if h > th or w > tw:
                raise DataError(f'image {results.get("img_path")} is {h}x{w} after the earlier transforms, '
                                f'larger than the Pad size {th}x{tw}')
            return th, tw
        d = int(self.size_divisor)
        return -(-h // d) * d, -(-w // d) * d

    def _value(self, key):
        if isinstance(self.pad_val, dict):
            return self.pad_val.get(key, 0)
        return self.pad_val

    def transform(self, results):
        h, w = results['img'].shape[:2]
        th, tw = self._target(h, w, results)
        top = (th - h) // 2 if self.position == 'center' else 0
        left = (tw - w) // 2 if self.position == 'center' else 0
        bottom, right = th - h - top, tw - w - left
        if bottom or right or top or left:
            for key in results.get('img_fields', []):
                results[key] = _pad(results[key], top, bottom, left, right, self._value(key))
            for key in results.get('seg_fields', []):
                results[key] = _pad(results[key], top, bottom, left, right, self.seg_pad_val)
        results['pad_shape'] = (th, tw)
        return results


def _pad(array, top, bottom, left, right, value):
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, mode='constant', constant_values=value)
