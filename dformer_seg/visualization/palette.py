"""Class colours: a fallback palette and label map -> colour image."""
import numpy as np


def default_palette(num_classes):
    """A fixed pseudo-random RGB colour per class, for models and data sets without a palette."""
    if num_classes < 1:
        raise ValueError(f'num_classes must be positive, got {num_classes}')
    rng = np.random.RandomState(42)
    return rng.randint(0, 256, size=(num_classes, 3)).tolist()


def check_palette(palette):
    """``palette`` as an (N, 3) uint8 array, or a clear error."""
    array = np.asarray(palette)
    if array.ndim != 2 or array.shape[1] != 3 or len(array) == 0:
        raise ValueError(f'a palette is a list of (r, g, b) colours, got shape {array.shape}')
    if not np.issubdtype(array.dtype, np.integer) or array.min() < 0 or array.max() > 255:
        raise ValueError('palette colours must be integers in 0..255')
    return array.astype(np.uint8)


def colorize(label_map, palette, ignore_index=None, ignore_color=(0, 0, 0)):
    """An (H, W, 3) uint8 image of a label map, in the palette's channel order (RGB for
    the data sets' palettes). Pixels equal to ``ignore_index`` get ``ignore_color``."""
    label_map = np.asarray(label_map)
    if label_map.ndim != 2 or not np.issubdtype(label_map.dtype, np.integer):
        raise ValueError(f'a label map is an (H, W) integer array, got shape {label_map.shape} '
                         f'and type {label_map.dtype}')
    colours = check_palette(palette)
    ignored = (label_map == ignore_index) if ignore_index is not None else np.zeros(label_map.shape, bool)
    labels = label_map[~ignored]
    if labels.size and (labels.min() < 0 or labels.max() >= len(colours)):
        bad = labels.max() if labels.max() >= len(colours) else labels.min()
        raise ValueError(f'label {bad} has no colour: the palette has {len(colours)} entries')
    image = colours[np.where(ignored, 0, label_map)]
    image[ignored] = ignore_color
    return image
