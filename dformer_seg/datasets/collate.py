"""Stack packed samples into a batch, keeping per-image metadata."""
import numpy as np

TENSOR_PAD_VALUES = {'img': 0.0, 'depth': 0.0, 'gt_seg': 255}


def _stack(arrays, pad_value):
    """Stack arrays whose last two axes (H, W) may differ, padding bottom/right."""
    height = max(a.shape[-2] for a in arrays)
    width = max(a.shape[-1] for a in arrays)
    lead = {a.shape[:-2] for a in arrays}
    if len(lead) != 1:
        raise ValueError(f'cannot batch arrays with different channel counts: {sorted(lead)}')
    out = np.full((len(arrays),) + lead.pop() + (height, width), pad_value, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, ..., :a.shape[-2], :a.shape[-1]] = a
    return out


def collate_samples(samples):
    """``[dict(img, depth, gt_seg?, img_metas), ...]`` -> ``dict(img=(B,3,H,W), depth=(B,C,H,W),
    gt_seg=(B,H,W), img_metas=[dict, ...])`` as numpy arrays.

    Images of different sizes (e.g. SUNRGBD evaluation) are padded at the
    bottom/right to the largest: images and depth with 0 (the normalized
    mean), labels with 255; each image's own size stays in its metadata, and
    ``batch_input_shape`` records the padded size.
    """
    if not samples:
        raise ValueError('cannot collate an empty batch')
    keys = set(samples[0])
    for sample in samples[1:]:
        if set(sample) != keys:
            raise ValueError(f'samples of one batch have different keys: {sorted(keys)} vs {sorted(sample)}')
    batch = {}
    for key in samples[0]:
        if key == 'img_metas':
            continue
        if np.ndim(samples[0][key]) < 2:  # per-image scalars or vectors (e.g. a class label)
            batch[key] = np.stack([np.asarray(s[key]) for s in samples])
            continue
        pad_value = TENSOR_PAD_VALUES.get(key, 0)
        batch[key] = _stack([np.asarray(s[key]) for s in samples], pad_value)
    shape = tuple(int(v) for v in batch['img'].shape[-2:]) if 'img' in batch else None
    batch['img_metas'] = [dict(s.get('img_metas', {}), batch_input_shape=shape) for s in samples]
    return batch
