"""Turn a results dict into the tensors and metadata a model consumes."""
import numpy as np

from ...registry import PIPELINES
from .compose import BaseTransform

DEFAULT_META_KEYS = ('img_path', 'depth_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'sample_idx', 'color_order')


def _to_chw_float32(array):
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def _plain(value):
    """Metadata as plain Python values (tuples for shapes), safe to send between processes."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_plain(v) for v in value)
    return value


def pack_rgbd(results, meta_keys):
    """``dict(img=CHW float32, depth=CHW float32 (when loaded), img_metas=dict(...))`` of a results dict; a
    one-channel depth map is repeated to ``results['depth_channels']`` when that asks for more."""
    packed = {'img': _to_chw_float32(results['img'])}
    if 'depth' in results:
        depth = _to_chw_float32(results['depth'])
        channels = results.get('depth_channels', depth.shape[0])
        if depth.shape[0] == 1 and channels > 1:
            depth = np.repeat(depth, channels, axis=0)
        packed['depth'] = depth
    packed['img_metas'] = {key: _plain(results.get(key)) for key in meta_keys}
    return packed


@PIPELINES.register_module()
class PackSegInputs(BaseTransform):
    """-> ``dict(img=CHW float32, depth=CHW float32, gt_seg=HW int32 (when loaded),
    img_metas=dict(...))``."""

    def __init__(self, meta_keys=DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results):
        packed = pack_rgbd(results, self.meta_keys)
        if 'gt_seg' in results:
            packed['gt_seg'] = np.ascontiguousarray(results['gt_seg'], dtype=np.int32)
        return packed
