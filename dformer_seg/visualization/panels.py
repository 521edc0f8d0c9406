"""Side-by-side panels of one RGB-D sample: RGB | depth | label | prediction, each titled."""
import cv2
import numpy as np

from ..datasets.io import READ_COLOR, READ_GRAYSCALE_ANY_DEPTH, read_image_file
from .palette import check_palette, colorize

PANEL_TITLES = ('RGB', 'depth', 'label', 'prediction')
_TITLE_HEIGHT = 18
_GAP = 2


def depth_to_colour(depth):
    """A BGR colour map of a raw depth map (near = dark blue, far = yellow); missing depth (0) is black."""
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3:
        depth = depth[:, :, 0]
    measured = depth > 0
    scaled = np.zeros(depth.shape, np.uint8)
    if measured.any():
        low, high = depth[measured].min(), depth[measured].max()
        scaled[measured] = np.clip(np.rint(1 + 254 * (depth[measured] - low) / max(high - low, 1e-12)), 1, 255)
    colour = cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS)
    colour[~measured] = 0
    return colour


def read_sample(meta):
    """``(image BGR uint8, raw depth or None)`` of a sample, from ``meta['img_path']``/``meta['depth_path']``."""
    image = read_image_file(meta['img_path'], READ_COLOR, 'image')
    depth_path = meta.get('depth_path')
    depth = read_image_file(depth_path, READ_GRAYSCALE_ANY_DEPTH, 'depth') if depth_path else None
    return image, depth


def _titled(image, title):
    strip = np.full((_TITLE_HEIGHT, image.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, title, (3, _TITLE_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def sample_panel(image, depth, label, pred, palette, ignore_index=255, caption=None):
    """RGB | depth | label | prediction as one BGR uint8 image (ignored label pixels black).

    ``image`` is BGR (as read from a file) at the label's size or resized to
    it; ``depth`` the raw depth map (None: a grey panel); ``caption`` is added
    to the prediction's title (e.g. its mIoU).
    """
    label = np.asarray(label)
    pred = np.asarray(pred)
    if label.shape != pred.shape:
        raise ValueError(f'label {label.shape} and prediction {pred.shape} must have the same size')
    height, width = label.shape
    colours = check_palette(palette)[:, ::-1]  # the data set palettes are RGB, the panel is BGR

    def fit(picture):
        return cv2.resize(picture, (width, height), interpolation=cv2.INTER_NEAREST) \
            if picture.shape[:2] != (height, width) else picture

    depth_view = depth_to_colour(depth) if depth is not None else np.full((height, width, 3), 128, np.uint8)
    views = [fit(np.asarray(image)), fit(depth_view), colorize(label, colours, ignore_index=ignore_index),
             colorize(pred, colours)]
    titles = list(PANEL_TITLES)
    if caption:
        titles[-1] = f'{titles[-1]} {caption}'
    gap = np.full((height + _TITLE_HEIGHT, _GAP, 3), 255, np.uint8)
    parts = []
    for view, title in zip(views, titles):
        parts += [_titled(view, title), gap]
    return np.concatenate(parts[:-1], axis=1)
