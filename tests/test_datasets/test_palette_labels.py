"""Palette-indexed label PNGs (the PASCAL VOC convention): the palette index is the class id."""
import struct
import zlib

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError, voc_colormap
from dformer_seg.datasets.io import read_png_palette_indices
from dformer_seg.datasets.pipelines import LoadAnnotations


def paeth(left, up, up_left):
    estimate = left + up - up_left
    da, db, dc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    return left if da <= db and da <= dc else (up if db <= dc else up_left)


def filter_row(kind, row, previous):
    """PNG filter ``kind`` applied to one row of bytes (one byte per pixel)."""
    out = []
    for i, value in enumerate(row):
        left = row[i - 1] if i else 0
        up, up_left = previous[i], (previous[i - 1] if i else 0)
        predictor = (0, left, up, (left + up) // 2, paeth(left, up, up_left))[kind]
        out.append((value - predictor) % 256)
    return bytes([kind] + out)


def chunk(kind, body):
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body) & 0xFFFFFFFF)


def write_palette_png(path, indices, palette, bit_depth=8, interlace=0):
    """A palette PNG whose rows use every filter type in turn (None, Sub, Up, Average, Paeth)."""
    h, w = indices.shape
    per_byte = 8 // bit_depth
    padded = np.zeros((h, -(-w // per_byte) * per_byte), np.uint8)
    padded[:, :w] = indices
    groups = padded.reshape(h, -1, per_byte).astype(np.int64)
    packed = (groups << (bit_depth * np.arange(per_byte - 1, -1, -1))).sum(axis=2)
    raw, previous = b'', [0] * packed.shape[1]
    for y, row in enumerate(packed.tolist()):
        raw += filter_row(y % 5, row, previous)
        previous = row
    header = struct.pack('>IIBBBBB', w, h, bit_depth, 3, 0, 0, interlace)
    data = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'PLTE', bytes(np.asarray(palette, np.uint8).ravel()))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


@pytest.mark.parametrize('bit_depth', [8, 4, 2])
def test_palette_png_gives_its_indices(tmp_path, bit_depth):
    rng = np.random.default_rng(bit_depth)
    indices = rng.integers(0, 2 ** bit_depth, size=(11, 13)).astype(np.uint8)
    palette = voc_colormap(2 ** bit_depth)
    path = write_palette_png(tmp_path / 'label.png', indices, palette, bit_depth)
    # OpenCV (libpng) sees the palette colours: the file is a valid PNG with these indices.
    assert np.array_equal(cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1], palette[indices])
    assert np.array_equal(read_png_palette_indices(path), indices)


def test_load_annotations_reads_voc_style_labels(tmp_path):
    indices = np.array([[0, 1, 2, 255], [3, 3, 1, 0]], np.uint8)
    path = write_palette_png(tmp_path / 'voc.png', indices, voc_colormap(256))
    results = LoadAnnotations()(dict(seg_map_path=path, num_classes=4, ignore_index=255))
    assert np.array_equal(results['gt_seg'], indices)
    reduced = LoadAnnotations(reduce_zero_label=True)(dict(seg_map_path=path, num_classes=3, ignore_index=255))
    assert np.array_equal(reduced['gt_seg'], [[255, 0, 1, 255], [2, 2, 0, 255]])
    # A palette with repeated colours (unused entries left black) still gives the indices.
    repeated = np.zeros((256, 3), np.uint8)
    path = write_palette_png(tmp_path / 'black.png', indices, repeated)
    assert np.array_equal(LoadAnnotations()(dict(seg_map_path=path))['gt_seg'], indices)


def test_colour_labels_without_a_palette_are_still_refused(tmp_path):
    path = str(tmp_path / 'colour.png')
    cv2.imwrite(path, np.dstack([np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8), np.zeros((2, 2), np.uint8)]))
    with pytest.raises(DataError, match=r'colour\.png is a colour image'):
        LoadAnnotations()(dict(seg_map_path=path))


def test_broken_palette_pngs(tmp_path):
    indices = np.zeros((3, 3), np.uint8)
    interlaced = write_palette_png(tmp_path / 'adam7.png', indices, voc_colormap(4), interlace=1)
    with pytest.raises(DataError, match=r'adam7\.png is an interlaced'):
        read_png_palette_indices(interlaced)
    whole = open(write_palette_png(tmp_path / 'ok.png', indices, voc_colormap(4)), 'rb').read()
    cut = tmp_path / 'cut.png'
    cut.write_bytes(whole[:-20])
    with pytest.raises(DataError, match=r'cut\.png is a truncated PNG'):
        LoadAnnotations()(dict(seg_map_path=str(cut)))
