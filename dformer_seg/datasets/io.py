"""Reading image files with errors that name the file instead of failing inside OpenCV."""
import os
import struct
import zlib

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


FLOAT_DEPTH_EXTENSIONS = ('.npy', '.exr', '.tif', '.tiff')


def read_depth_file(path, flags, what):
    """A depth-like map from an image file, a ``.npy`` array or an OpenEXR file.

    ``.npy`` files are read without pickle (plain numeric arrays only). OpenEXR is
    disabled in OpenCV unless ``OPENCV_IO_ENABLE_OPENEXR`` is set; reading an
    ``.exr`` file sets it for this process (when the user has not set it), since
    the file was asked for explicitly.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext == '.npy':
        return _read_npy(path, what)
    if ext == '.exr':
        os.environ.setdefault('OPENCV_IO_ENABLE_OPENEXR', '1')
        try:
            return read_image_file(path, flags, what)
        except cv2.error as exc:
            raise DataError(f'cannot read {what} file {path} with OpenCV\'s OpenEXR codec '
                            f'(OPENCV_IO_ENABLE_OPENEXR={os.environ.get("OPENCV_IO_ENABLE_OPENEXR")!r}): '
                            f'{str(exc).strip().splitlines()[-1]}') from None
    return read_image_file(path, flags, what)


def _read_npy(path, what):
    if not os.path.isfile(path):
        raise DataError(f'{what} file not found: {path}')
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:  # pickled objects, a truncated header or data
        raise DataError(f'cannot read {what} file {path} as a numeric .npy array: {exc}') from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in 'uif':
        raise DataError(f'{what} file {path} holds {getattr(array, "dtype", type(array))}, not a numeric array')
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or array.size == 0:
        raise DataError(f'{what} file {path} holds an array of shape {array.shape}; expected HxW (or HxWx1)')
    if array.dtype.kind == 'f' and array.dtype != np.float32:
        array = array.astype(np.float32)
    return array


# ---------------------------------------------------------------------- palette PNG
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PNG_PALETTE_COLOR_TYPE = 3


def png_color_type(path):
    """The colour type byte of a PNG's IHDR (3 = palette-indexed), or None for other files."""
    with open(path, 'rb') as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b'IHDR':
        return None
    return head[25]


def _png_chunks(data, path):
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack('>I4s', data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if len(body) != length:
            raise DataError(f'label file {path} is a truncated PNG (chunk {kind!r} cut short)')
        yield kind, body
        if kind == b'IEND':
            return
        position += 12 + length
    raise DataError(f'label file {path} is a truncated PNG (no IEND chunk)')


def _paeth(left, up, up_left):
    estimate = left + up - up_left
    distances = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if distances[0] <= distances[1] and distances[0] <= distances[2]:
        return left
    return up if distances[1] <= distances[2] else up_left


def _unfilter_rows(raw, height, row_bytes, bytes_per_pixel, path):
    """Undo the PNG scanline filters (None, Sub, Up, Average, Paeth)."""
    if len(raw) != height * (row_bytes + 1):
        raise DataError(f'label file {path}: the PNG image data has {len(raw)} bytes, expected '
                        f'{height * (row_bytes + 1)} for {height} rows of {row_bytes} bytes')
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, row_bytes + 1)
    out = np.zeros((height, row_bytes), dtype=np.uint8)
    previous = np.zeros(row_bytes, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1 and bytes_per_pixel == 1:
            current = (np.cumsum(line, dtype=np.uint64) % 256).astype(np.uint8)
        elif kind == 2:
            current = line + previous  # uint8 arithmetic wraps modulo 256, as PNG specifies
        elif kind in (1, 3, 4):
            current = _unfilter_sequential(kind, line, previous, bytes_per_pixel)
        else:
            raise DataError(f'label file {path}: row {y} of the PNG has an unknown filter type {kind}')
        out[y] = current
        previous = current
    return out


def _unfilter_sequential(kind, line, previous, bpp):
    """Sub (with several bytes per pixel), Average and Paeth depend on the unfiltered left neighbour."""
    current = [0] * len(line)
    line, up = line.tolist(), previous.tolist()
    for i, value in enumerate(line):
        left = current[i - bpp] if i >= bpp else 0
        if kind == 1:
            predictor = left
        elif kind == 3:
            predictor = (left + up[i]) // 2
        else:
            predictor = _paeth(left, up[i], up[i - bpp] if i >= bpp else 0)
        current[i] = (value + predictor) & 0xFF
    return np.array(current, dtype=np.uint8)


def read_png_palette_indices(path):
    """The palette indices of a palette-indexed PNG (the PASCAL VOC label convention) as HxW uint8.

    OpenCV expands a palette PNG to colours; here the IDAT stream is inflated and
    unfiltered directly, so every pixel keeps its index whatever the palette holds.
    """
    with open(path, 'rb') as f:
        data = f.read()
    header, compressed = None, []
    for kind, body in _png_chunks(data, path):
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            compressed.append(body)
    if header is None:
        raise DataError(f'label file {path} is a PNG without an IHDR chunk')
    width, height, bit_depth, color_type, _, _, interlace = header
    if color_type != PNG_PALETTE_COLOR_TYPE or bit_depth not in (1, 2, 4, 8):
        raise DataError(f'label file {path} is not a palette-indexed PNG (colour type {color_type}, '
                        f'bit depth {bit_depth})')
    if interlace:
        raise DataError(f'label file {path} is an interlaced (Adam7) palette PNG; save it without '
                        f'interlacing to use its palette indices as labels')
    try:
        raw = zlib.decompress(b''.join(compressed))
    except zlib.error as exc:
        raise DataError(f'label file {path}: corrupt PNG image data ({exc})') from None
    row_bytes = (width * bit_depth + 7) // 8
    packed = _unfilter_rows(raw, height, row_bytes, 1, path)
    if bit_depth == 8:
        return packed
    bits = np.unpackbits(packed, axis=1).reshape(height, row_bytes * 8 // bit_depth, bit_depth)
    weights = (1 << np.arange(bit_depth - 1, -1, -1)).astype(np.uint8)
    return (bits * weights).sum(axis=2, dtype=np.uint8)[:, :width]


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
