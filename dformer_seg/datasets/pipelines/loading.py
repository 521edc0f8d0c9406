"""Transforms that read the RGB image, the depth (or other second modality) and the label."""
import cv2
import numpy as np

from ...registry import PIPELINES
from ..errors import DataError
from ..io import READ_COLOR, READ_GRAYSCALE_ANY_DEPTH, READ_UNCHANGED, read_image_file
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


@PIPELINES.register_module()
class LoadDepthFromFile(BaseTransform):
    """Read ``results['depth_path']`` as an HxWxC array in the 0..255 range.

    * 8-bit files (the released NYUDepthv2/SUNRGBD depth PNGs) are read as
      grayscale, exactly like the official ``cv2.IMREAD_GRAYSCALE``.
    * 16-bit files (raw sensor depth, e.g. millimetres) are mapped linearly
      from ``raw_depth_range`` to 0..255 and clipped, as float32. Raw 0
      ("no measurement") maps to 0.
    * ``color_type='color'`` reads a 3-channel second modality (HHA, a
      colour-mapped thermal image, ...) in ``color_order``.

    A grayscale map stays one channel through the pipeline (cheaper) and
    PackSegInputs repeats it to ``channels`` (the official code feeds 3).

    In-memory input: an array already in ``results['depth']`` (HxW or HxWx1
    for grayscale, HxWx3 in ``color_order`` for 'color'; uint8 or uint16) is
    used instead of a file and scaled exactly like a file of that type.
    """

    def __init__(self, channels=3, color_type='grayscale', color_order='rgb',
                 raw_depth_range=(0.0, 10000.0)):
        if color_type not in ('grayscale', 'color'):
            raise ValueError(f"color_type must be 'grayscale' or 'color', got {color_type!r}")
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f'channels must be a positive int, got {channels!r}')
        if color_type == 'color' and channels != 3:
            raise ValueError(f"color_type='color' reads 3 channels; set channels=3 (got {channels})")
        low, high = (float(v) for v in raw_depth_range)
        if not high > low:
            raise ValueError(f'raw_depth_range must be (low, high) with high > low, got {raw_depth_range!r}')
        self.channels = channels
        self.color_type = color_type
        self.color_order = _check_color_order(color_order)
        self.raw_depth_range = (low, high)

    def _to_0_255(self, raw, source):
        if raw.dtype == np.uint8:
            return raw
        if raw.dtype == np.uint16:
            low, high = self.raw_depth_range
            scaled = (raw.astype(np.float32) - low) * np.float32(255.0 / (high - low))
            return np.clip(scaled, 0.0, 255.0)
        raise DataError(f'{source} has pixel type {raw.dtype}; only 8-bit and 16-bit images '
                        f'are supported (save depth as an 8-bit or 16-bit PNG)')

    def _from_array(self, array):
        if self.color_type == 'grayscale':
            if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1)):
                raise DataError(f'depth array must be HxW or HxWx1 for color_type="grayscale", got shape '
                                f'{array.shape}')
            return self._to_0_255(array.reshape(array.shape[:2]), 'depth array')[:, :, None].copy()
        if array.ndim != 3 or array.shape[2] != 3:
            raise DataError(f'depth array must be HxWx3 for color_type="color", got shape {array.shape}')
        return self._to_0_255(array, 'depth array').copy()

    def _from_file(self, path):
        source = _describe_source(path, 'depth')
        if self.color_type == 'grayscale':
            return self._to_0_255(read_image_file(path, READ_GRAYSCALE_ANY_DEPTH, 'depth'), source)[:, :, None]
        depth = read_image_file(path, READ_COLOR | cv2.IMREAD_ANYDEPTH, 'depth')
        if self.color_order == 'rgb':
            depth = cv2.cvtColor(depth, cv2.COLOR_BGR2RGB)
        return self._to_0_255(depth, source)

    def transform(self, results):
        given = _given_array(results, 'depth', 'depth')
        if given is not None:
            depth, source = self._from_array(given), 'depth array'
        else:
            path = results['depth_path']
            depth, source = self._from_file(path), _describe_source(path, 'depth')
        _check_same_size(results, depth, source)
        results['depth'] = depth
        results['depth_channels'] = self.channels
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
