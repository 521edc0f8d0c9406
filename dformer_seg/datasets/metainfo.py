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
