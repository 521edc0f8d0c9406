"""Predictions as COCO-style run-length encoded masks (for ``tools/test.py --format-only``)."""
import numpy as np


def _mask_api():
    try:
        from pycocotools import mask as mask_api
    except ImportError as exc:
        raise ImportError('--format-only needs pycocotools: pip install pycocotools') from exc
    return mask_api


def prediction_to_rle_records(pred, image_id, class_names=None):
    """One record per class present in ``pred``: ``image_id, category_id, [category_name,] segmentation``.

    ``segmentation`` is ``{'size': [h, w], 'counts': str}``, decodable with
    ``pycocotools.mask.decode`` (the bytes counts are stored as ASCII text).
    """
    mask_api = _mask_api()
    pred = np.asarray(pred)
    records = []
    for class_id in np.unique(pred):
        rle = mask_api.encode(np.asfortranarray((pred == class_id).astype(np.uint8)))
        record = dict(image_id=image_id, category_id=int(class_id),
                      segmentation=dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode('ascii')))
        if class_names is not None:
            record['category_name'] = class_names[int(class_id)]
        records.append(record)
    return records


def rle_to_mask(segmentation):
    mask_api = _mask_api()
    return mask_api.decode(dict(size=segmentation['size'], counts=segmentation['counts'].encode('ascii')))
