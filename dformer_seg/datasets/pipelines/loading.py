"""Transforms that read the RGB image, the depth (or other second modality) and the label."""
import os

import cv2
import numpy as np

from ...registry import PIPELINES
from ..errors import DataError
from ..io import (
    PNG_PALETTE_COLOR_TYPE,
    READ_COLOR,
    READ_GRAYSCALE_ANY_DEPTH,
    READ_UNCHANGED,
    png_color_type,
    read_depth_file,
    read_image_file,
    read_png_palette_indices,
)
from .compose import BaseTransform

COLOR_ORDERS = ('bgr', 'rgb')


def add_field(results, key, name):
    fields = results.setdefault(key, [])
    if name not in fields:
        fields.append(name)


def _check_color_order(color_order):
    if color_order not in COLOR_ORDERS:
        raise ValueError(f"color_order must be one of {COLOR_ORDERS}, got {color_order!r}")
    return color_order


def _describe_source(path, what):
    """'depth file x.png' for data read from a file, 'depth array' for an in-memory array."""
    return f'{what} file {path}' if path else f'{what} array'


def _check_same_size(results, array, source):
    """Stop when a depth or label does not match the RGB image it belongs to."""
    if 'ori_shape' not in results:
        return
    expected = tuple(results['ori_shape'])
    if tuple(array.shape[:2]) != expected:
        image = _describe_source(results.get('img_path'), 'image')
        raise DataError(f'{source} is {array.shape[0]}x{array.shape[1]} (HxW) but {image} is '
                        f'{expected[0]}x{expected[1]}; RGB, depth and label of a sample must have the same size')


def _given_array(results, key, what):
    """The in-memory array placed in ``results[key]`` before loading (None when there is none)."""
    array = results.get(key)
    if array is None:
        return None
    if not isinstance(array, np.ndarray):
        raise DataError(f'{what} must be a numpy array or a file path, got {type(array).__name__}')
    if array.size == 0:
        raise DataError(f'{what} array is empty (shape {array.shape})')
    return array


@PIPELINES.register_module()
class LoadImageFromFile(BaseTransform):
    """Read ``results['img_path']`` as an HxWx3 uint8 image.

    ``color_order`` is the channel order the model was trained with: the
    official DFormer checkpoints saw images as OpenCV stores them ('bgr'),
    except DFormerv2 on SUNRGBD ('rgb'). Normalize applies its mean/std in
    this stored order.

    In-memory input (e.g. from ``inference_model``): when ``results['img']``
    already holds an HxWx3 uint8 array, it is used instead of a file;
    ``results['img_color_order']`` ('bgr' | 'rgb', default ``color_order``)
    says which order it is in, and it is converted to ``color_order``.
    """

    def __init__(self, color_order='bgr', to_float32=False):
        self.color_order = _check_color_order(color_order)
        self.to_float32 = to_float32

    def _from_array(self, array, source_order):
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise DataError(f'image array must be HxWx3 uint8, got shape {array.shape} and type {array.dtype}')
        if _check_color_order(source_order) != self.color_order:
            return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)  # the same swap in both directions
        return array.copy()  # later transforms must never write into the caller's array

    def transform(self, results):
        given = _given_array(results, 'img', 'image')
        if given is not None:
            img = self._from_array(given, results.get('img_color_order') or self.color_order)
        else:
            img = read_image_file(results['img_path'], READ_COLOR, 'image')
            if self.color_order == 'rgb':
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        if self.to_float32:
            img = img.astype(np.float32)
        shape = tuple(img.shape[:2])
        results.update(img=img, color_order=self.color_order, ori_shape=shape, img_shape=shape,
                       pad_shape=shape, scale_factor=1.0, flip=False, flip_direction=None)
        add_field(results, 'img_fields', 'img')
        return results


DEPTH_TYPES = ('depth', 'disparity', 'inverse')
HOLE_FILLS = (None, 'nearest', 'inpaint')
INVALID_POLICIES = ('error', 'missing')
INPAINT_RADIUS = 5


def _check_range(value, name):
    low, high = (float(v) for v in value)
    if not high > low:
        raise ValueError(f'{name} must be (low, high) with high > low, got {value!r}')
    return low, high


def _fill_holes(scaled, holes, method):
    """Give the hole pixels of a 0..255 float32 map the value of the nearest measured pixel, or an
    OpenCV (Telea) inpainting of the measured surroundings."""
    if method == 'nearest':
        # The distance transform labels every pixel with the index of its nearest zero pixel (a measured one).
        _, labels = cv2.distanceTransformWithLabels(holes.astype(np.uint8), cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        measured = scaled[~holes]  # row-major order, as the labels count the zero pixels (1-based)
        return measured[labels - 1].astype(np.float32)
    return cv2.inpaint(scaled, holes.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)


@PIPELINES.register_module()
class LoadDepthFromFile(BaseTransform):
    """Read ``results['depth_path']`` (depth, or any second modality) as an HxWxC array in the 0..255 range.

    * 8-bit files (the released NYUDepthv2/SUNRGBD depth PNGs, MFNet thermal) are
      read as grayscale, exactly like the official ``cv2.IMREAD_GRAYSCALE``, and
      used as they are.
    * Measured maps: 16-bit PNG (e.g. millimetres) and 32-bit float (TIFF,
      OpenEXR, ``.npy``; e.g. metres). ``depth_type`` says what the file holds:
      'depth', 'disparity' (depth = ``disparity_scale`` / value, i.e. baseline x
      focal / disparity) or 'inverse' (depth = 1 / value). The depth is mapped
      linearly from ``raw_depth_range`` (16-bit files) or ``float_depth_range``
      (float files) to 0..255 and clipped, as float32. A value of 0 means "no
      measurement" (a hole); NaN, infinite or negative values stop with an error
      naming the file, or are holes with ``invalid='missing'``. Holes get
      ``missing_value`` (``hole_fill=None``), the value of the nearest measured
      pixel ('nearest') or an OpenCV inpainting ('inpaint'). A map without a
      single measured pixel is refused.
    * ``color_type='color'`` reads a 3-channel second modality (HHA, a
      colour-mapped thermal image, ...) in ``color_order``.
    * No depth at all (``depth_path`` None and no array; e.g. ``inference_model``
      without depth): a map filled with ``missing_value``, the value that
      ``ModalityDropout`` trains the model with.

    ``modality`` names the data in error messages ('depth', 'thermal', 'HHA', ...).
    A grayscale map stays one channel through the pipeline (cheaper) and
    PackSegInputs repeats it to ``channels`` (the official code feeds 3).

    In-memory input: an array already in ``results['depth']`` (HxW or HxWx1
    for grayscale, HxWx3 in ``color_order`` for 'color'; uint8, uint16 or float)
    is used instead of a file and converted exactly like a file of that type.
    """

    def __init__(self, channels=3, color_type='grayscale', color_order='rgb',
                 raw_depth_range=(0.0, 10000.0), float_depth_range=(0.0, 10.0), depth_type='depth',
                 disparity_scale=None, hole_fill=None, invalid='error', missing_value=0.0, modality='depth'):
        if color_type not in ('grayscale', 'color'):
            raise ValueError(f"color_type must be 'grayscale' or 'color', got {color_type!r}")
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'channels must be a positive int, got {channels!r}')
        if color_type == 'color' and channels != 3:
            raise ValueError(f"color_type='color' reads 3 channels; set channels=3 (got {channels})")
        for value, allowed, name in ((depth_type, DEPTH_TYPES, 'depth_type'), (hole_fill, HOLE_FILLS, 'hole_fill'),
                                     (invalid, INVALID_POLICIES, 'invalid')):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        if depth_type == 'disparity' and not (disparity_scale and float(disparity_scale) > 0):
            raise ValueError("depth_type='disparity' needs disparity_scale = baseline x focal length (> 0), "
                             f"in the units of the depth range; got {disparity_scale!r}")
        if not 0.0 <= float(missing_value) <= 255.0:
            raise ValueError(f'missing_value is in the 0..255 units of the loaded map, got {missing_value!r}')
        self.channels = channels
        self.color_type = color_type
        self.color_order = _check_color_order(color_order)
        self.raw_depth_range = _check_range(raw_depth_range, 'raw_depth_range')
        self.float_depth_range = _check_range(float_depth_range, 'float_depth_range')
        self.depth_type = depth_type
        self.disparity_scale = 1.0 if depth_type == 'inverse' else (
            None if disparity_scale is None else float(disparity_scale))
        self.hole_fill = hole_fill
        self.invalid = invalid
        self.missing_value = float(missing_value)
        self.modality = str(modality)

    # ------------------------------------------------------------------ conversion
    def _to_0_255(self, raw, source):
        if raw.dtype == np.uint8:
            if self.depth_type != 'depth' or self.hole_fill is not None:
                raise DataError(f'{source} is 8-bit, which is read as a ready 0..255 map; depth_type='
                                f'{self.depth_type!r} and hole_fill={self.hole_fill!r} apply to measured '
                                f'16-bit or float maps only')
            return raw
        if raw.dtype == np.uint16:
            return self._measured_to_0_255(raw.astype(np.float32), self.raw_depth_range, source)
        if raw.dtype in (np.float32, np.float64):
            if self.color_type == 'color':
                raise DataError(f'{source} is a {raw.dtype} colour image; a 3-channel {self.modality} must be '
                                f'8-bit or 16-bit')
            return self._measured_to_0_255(raw.astype(np.float32), self.float_depth_range, source)
        raise DataError(f'{source} has pixel type {raw.dtype}; {self.modality} must be an 8-bit or 16-bit '
                        f'image, or 32-bit float (TIFF, OpenEXR, .npy)')

    def _measured_to_0_255(self, values, value_range, source):
        invalid = ~np.isfinite(values) | (values < 0)
        if invalid.any():
            if self.invalid == 'error':
                counts = (int(np.isnan(values).sum()), int(np.isinf(values).sum()),
                          int((np.isfinite(values) & (values < 0)).sum()))
                found = ', '.join(f'{n} {kind}' for n, kind in zip(counts, ('NaN', 'infinite', 'negative')) if n)
                raise DataError(f'{source} has invalid values ({found}); fix the file, or set '
                                f'LoadDepthFromFile(invalid="missing") to treat them as missing {self.modality}')
            values = np.where(invalid, 0.0, values).astype(np.float32)
        holes = values == 0
        if holes.all():
            raise DataError(f'{source} has no measured {self.modality}: every pixel is 0 (no measurement)'
                            + (' or invalid' if invalid.any() else ''))
        if self.depth_type != 'depth':
            values = np.divide(self.disparity_scale, values, out=np.zeros_like(values), where=~holes)
        low, high = value_range
        scaled = np.clip((values - low) * np.float32(255.0 / (high - low)), 0.0, 255.0).astype(np.float32)
        if not holes.any():
            return scaled
        if self.hole_fill is None:
            scaled[holes] = self.missing_value
            return scaled
        if scaled.ndim == 3:
            raise DataError(f'{source}: hole_fill works on single-channel maps, this one has '
                            f'{scaled.shape[2]} channels')
        return _fill_holes(scaled, holes, self.hole_fill)

    # ------------------------------------------------------------------ sources
    def _from_array(self, array):
        source = f'{self.modality} array'
        if self.color_type == 'grayscale':
            if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1)):
                raise DataError(f'{source} must be HxW or HxWx1 for color_type="grayscale", got shape '
                                f'{array.shape}')
            return self._to_0_255(array.reshape(array.shape[:2]), source)[:, :, None].copy()
        if array.ndim != 3 or array.shape[2] != 3:
            raise DataError(f'{source} must be HxWx3 for color_type="color", got shape {array.shape}')
        return self._to_0_255(array, source).copy()

    def _from_file(self, path):
        source = _describe_source(path, self.modality)
        if self.color_type == 'grayscale':
            raw = read_depth_file(path, READ_GRAYSCALE_ANY_DEPTH, self.modality)
            if raw.ndim == 3:  # an OpenEXR file with colour channels
                raise DataError(f'{source} has {raw.shape[2]} channels; a grayscale {self.modality} map has one')
            return self._to_0_255(raw, source)[:, :, None]
        depth = read_image_file(path, READ_COLOR | cv2.IMREAD_ANYDEPTH, self.modality)
        if self.color_order == 'rgb':
            depth = cv2.cvtColor(depth, cv2.COLOR_BGR2RGB)
        return self._to_0_255(depth, source)

    def _missing(self, results):
        if 'ori_shape' not in results:
            raise DataError(f'no {self.modality} given and no image loaded before LoadDepthFromFile, so the size '
                            f'of the missing-{self.modality} map is unknown (put LoadImageFromFile first)')
        shape = tuple(results['ori_shape']) + ((3,) if self.color_type == 'color' else (1,))
        if float(self.missing_value).is_integer():
            return np.full(shape, int(self.missing_value), dtype=np.uint8)
        return np.full(shape, self.missing_value, dtype=np.float32)

    def transform(self, results):
        given = _given_array(results, 'depth', self.modality)
        path = results.get('depth_path')
        if given is not None:
            depth, source = self._from_array(given), f'{self.modality} array'
        elif path:
            depth, source = self._from_file(path), _describe_source(path, self.modality)
        else:
            depth, source = self._missing(results), f'missing-{self.modality} map'
        _check_same_size(results, depth, source)
        results['depth'] = depth
        results['depth_channels'] = self.channels
        results['depth_missing'] = given is None and not path
        results['depth_missing_value'] = self.missing_value
        add_field(results, 'img_fields', 'depth')
        return results


@PIPELINES.register_module()
class LoadAnnotations(BaseTransform):
    """Read ``results['seg_map_path']`` (a single-channel class-id image) as ``gt_seg``.

    With ``reduce_zero_label`` (default: the data set's setting) raw 0 is void
    and becomes the ignore index, and every other raw value v becomes v - 1
    (the official ``gt - 1`` on uint8). A raw value equal to the ignore index
    stays ignored. With ``validate``, any other value that is not a class id
    stops with an error naming the file.
    """

    def __init__(self, reduce_zero_label=None, validate=True):
        self.reduce_zero_label = reduce_zero_label
        self.validate = validate

    @staticmethod
    def _read(path):
        if os.path.isfile(path) and png_color_type(path) == PNG_PALETTE_COLOR_TYPE:
            return read_png_palette_indices(path)  # VOC-style labels: the palette index is the class id
        raw = read_image_file(path, READ_UNCHANGED, 'label')
        if raw.ndim == 3:
            if raw.shape[2] >= 3 and not (np.array_equal(raw[:, :, 0], raw[:, :, 1])
                                          and np.array_equal(raw[:, :, 0], raw[:, :, 2])):
                raise DataError(f'label file {path} is a colour image; labels must be single-channel '
                                f'images of class ids')
            raw = np.ascontiguousarray(raw[:, :, 0])
        if raw.dtype not in (np.uint8, np.uint16):
            raise DataError(f'label file {path} has pixel type {raw.dtype}; labels must be 8-bit or '
                            f'16-bit images of class ids')
        return raw

    def transform(self, results):
        path = results.get('seg_map_path')
        if not path:
            raise DataError(f'no label file for image {results.get("img_path")}: the data set has no '
                            f'annotation folder, so LoadAnnotations cannot be used in its pipeline')
        raw = self._read(path)
        _check_same_size(results, raw, _describe_source(path, 'label'))
        reduce = results.get('reduce_zero_label', False) if self.reduce_zero_label is None \
            else self.reduce_zero_label
        ignore_index = int(results.get('ignore_index', 255))
        num_classes = results.get('num_classes')

        # A lookup table over every possible raw value maps and validates in one pass.
        lut = np.arange(np.iinfo(raw.dtype).max + 1, dtype=np.int64)
        if reduce:
            lut = np.where((lut == 0) | (lut == ignore_index), ignore_index, lut - 1)
        if self.validate and num_classes is not None:
            present = np.flatnonzero(np.bincount(raw.ravel(), minlength=len(lut)))
            bad = present[(lut[present] >= num_classes) & (lut[present] != ignore_index)]
            if len(bad):
                shown = ', '.join(str(v) for v in bad[:10]) + (', ...' if len(bad) > 10 else '')
                count = int(np.isin(raw, bad).sum())
                rule = (f'raw 1..{num_classes} for classes 0..{num_classes - 1}, 0 for void'
                        if reduce else f'0..{num_classes - 1}')
                raise DataError(f'label file {path} has {count} pixels with values ({shown}) that '
                                f'are neither a class nor void/ignore (expected {rule}, or {ignore_index} '
                                f'for ignore)')
        if raw.dtype == np.uint8 and 0 <= lut.min() and lut.max() <= 255:
            label = cv2.LUT(raw, lut.astype(np.uint8))
        else:
            label = lut[raw]
            if 0 <= label.min(initial=0) and label.max(initial=0) <= 255:
                label = label.astype(np.uint8)
            else:
                label = label.astype(np.int32)
        results['gt_seg'] = label
        add_field(results, 'seg_fields', 'gt_seg')
        return results
