"""Class names and colour palettes of the supported data sets."""
import numpy as np

# Names and order of the official DFormer configs (local_configs/_base_/datasets).
NYU_DEPTH_V2_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf', 'picture',
    'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box',
    'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag', 'otherstructure',
    'otherfurniture', 'otherprop')

SUNRGBD_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf', 'picture',
    'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror', 'floor_mat', 'clothes',
    'ceiling', 'books', 'fridge', 'tv', 'paper', 'towel', 'shower_curtain', 'box', 'whiteboard', 'person',
    'night_stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag')


def voc_colormap(n):
    """The PASCAL VOC colour map (the official ``nyucmap.npy``): the bits of the index
    are spread over R, G, B from the most significant bit down. Entry 0 is black."""
    index = np.arange(n, dtype=np.int64)
    cmap = np.zeros((n, 3), dtype=np.int64)
    for bit in range(8):
        for channel in range(3):
            cmap[:, channel] |= ((index >> (3 * bit + channel)) & 1) << (7 - bit)
    return cmap.astype(np.uint8)


def label_palette(num_classes):
    """Colours for classes 0..num_classes-1: the colours of raw labels 1..num_classes
    (raw 0, void, keeps black), so a class looks the same as in the released label PNGs
    shown with the VOC colour map."""
    return [tuple(int(c) for c in color) for color in voc_colormap(num_classes + 1)[1:]]


# MFNet (Ha et al., IROS 2017), as used by RTFNet / CMX: class 0 'unlabeled' is a class, not void.
MFNET_CLASSES = ('unlabeled', 'car', 'person', 'bike', 'curve', 'car_stop', 'guardrail', 'color_cone', 'bump')
MFNET_PALETTE = ((0, 0, 0), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 192), (128, 128, 0), (64, 64, 128),
                 (192, 128, 128), (192, 64, 0))

# The 20 classes of the ScanNet-v2 benchmark and the NYU40 ids they come from (in this order); every
# other NYU40 id, and 0 (unannotated), is ignored.
SCANNET_V2_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf', 'picture',
    'counter', 'desk', 'curtain', 'refrigerator', 'shower curtain', 'toilet', 'sink', 'bathtub', 'otherfurniture')
SCANNET_V2_NYU40_IDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39)

# Stanford-2D-3D-S (Armeni et al. 2017): the 13 semantic classes.
STANFORD2D3DS_CLASSES = ('ceiling', 'floor', 'wall', 'beam', 'column', 'window', 'door', 'table', 'chair', 'sofa',
                         'bookcase', 'board', 'clutter')

# Cityscapes: the 19 evaluation classes (trainIds 0..18), their colours, and labelId -> trainId.
CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train',
                      'motorcycle', 'bicycle')
CITYSCAPES_PALETTE = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
                      (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
                      (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
                      (0, 80, 100), (0, 0, 230), (119, 11, 32))
CITYSCAPES_TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                        26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # every other labelId is ignored


# ---------------------------------------------------------------------- the classes of a model's data
def dataset_meta(source):
    """``dict(classes=[...], palette=[(r, g, b), ...])`` of a data set, or ``{}`` when it names no classes.

    ``source`` is a built data set or data loader (its ``metainfo``, else its ``CLASSES`` / ``PALETTE``), a
    data set or data loader config (its ``classes`` / ``palette``, else those of its ``type``; nothing is
    built), or a whole config (its ``test_dataloader``, else its ``val_dataloader``). Without a palette the
    classes get :func:`label_palette`. The one place the toolbox resolves class names and colours: the
    Runner, :func:`dformer_seg.apis.init_model` and the ONNX Runtime model use it.
    """
    if source is None:
        return {}
    from ..config import Config
    if isinstance(source, Config):
        for key in ('test_dataloader', 'val_dataloader'):
            meta = dataset_meta(source.get(key))
            if meta:
                return meta
        return {}
    if isinstance(source, dict):
        if 'dataset' in source:  # a data loader config
            return dataset_meta(source['dataset'])
        return _meta(source.get('classes'), source.get('palette'), _registered_class(source.get('type')))
    for part in (source, getattr(source, 'dataset', None)):
        if part is None:
            continue
        info = getattr(part, 'metainfo', None)
        if isinstance(info, dict) and info.get('classes'):
            return _meta(info['classes'], info.get('palette'), None)
        meta = _meta(None, None, part)
        if meta:
            return meta
    return {}


def _registered_class(type_name):
    from ..registry import DATASETS
    return DATASETS.get(type_name) if isinstance(type_name, str) else type_name


def _meta(classes, palette, holder):
    classes = classes or getattr(holder, 'CLASSES', None)
    if not classes:
        return {}
    palette = palette or getattr(holder, 'PALETTE', None) or label_palette(len(classes))
    return dict(classes=list(classes), palette=[tuple(int(v) for v in colour) for colour in palette])


def stored_dataset_meta(meta):
    """The ``classes`` / ``palette`` that the meta of a checkpoint or an exported model stores (lower or upper
    case keys, or under ``dataset_meta``), as :func:`dataset_meta` gives them; ``{}`` when it stores none."""
    if isinstance(meta.get('dataset_meta'), dict):
        meta = meta['dataset_meta']
    return _meta(meta.get('classes') or meta.get('CLASSES'), meta.get('palette') or meta.get('PALETTE'), None)
