"""Reading image files with errors that name the file instead of failing inside OpenCV."""
import os

import cv2
import numpy as np

from .errors import DataError

# EXIF rotation is ignored everywhere: RGB, depth and label of one sample must
# stay pixel-aligned, and depth/label PNGs never carry an orientation tag.
READ_COLOR = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
READ_GRAYSCALE_ANY_DEPTH = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION
READ_UNCHANGED = cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION


def read_image_file(path, flags, what):
    """Decode ``path`` with OpenCV ``flags``; ``what`` names the file's role in errors."""
    if not os.path.isfile(path):
        raise DataError(f'{what} file not found: {path}')
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise DataError(f'{what} file is empty: {path}')
    image = cv2.imdecode(data, flags)
    if image is None:
        raise DataError(f'cannot decode {what} file {path}: it is corrupt or not an image')
    return image


def write_image_file(path, image):
    """Encode ``image`` by the extension of ``path`` (creating folders), raising on failure."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    ext = os.path.splitext(path)[1] or '.png'
    ok, encoded = cv2.imencode(ext, image)
    if not ok:
        raise DataError(f'OpenCV could not encode an image of shape {image.shape} as {ext}: {path}')
    encoded.tofile(path)
