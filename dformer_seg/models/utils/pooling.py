"""Resampling written as matrices: PyTorch-exact adaptive average pooling and bilinear interpolation.

A resampling of one axis is a matrix (out_size, in_size): a map is resampled
along W and then along H by two matrix products, which on channels-last maps
need no transposes.
"""
import functools

import numpy as np


def adaptive_pool_matrix(in_size, out_size):
    """(out_size, in_size) matrix whose rows average PyTorch's adaptive-pooling bins.

    Bin ``i`` covers ``[floor(i * in / out), ceil((i + 1) * in / out))``; bins may
    overlap and repeat input cells when ``out_size > in_size``. Jittor's own adaptive
    pooling uses equal windows instead, which differs for uneven sizes, so the models
    pool with products of these matrices.
    """
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def bilinear_matrix(in_size, out_size):
    """(out_size, in_size) matrix of PyTorch's ``interpolate(mode='bilinear', align_corners=False)`` weights.

    Output ``o`` reads ``src = (o + 0.5) * in / out - 0.5`` (clamped at 0, in
    float32 like PyTorch): ``1 - frac`` of cell ``floor(src)`` and ``frac`` of
    the next one (the same cell at the last row).
    """
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    scale = np.float32(in_size) / np.float32(out_size)
    for o in range(out_size):
        src = max(np.float32(0.0), scale * np.float32(o + 0.5) - np.float32(0.5))
        low = min(int(src), in_size - 1)
        frac = np.float32(src - np.float32(low))
        high = low + 1 if low < in_size - 1 else low
        matrix[o, low] += np.float32(1.0) - frac
        matrix[o, high] += frac
    return matrix


@functools.lru_cache(maxsize=128)
def resampling_matrix(kind, in_size, out_size):
    """Cached, read-only (out_size, in_size) matrix of ``kind``: 'pool' (adaptive average) or 'bilinear'."""
    matrix = {'pool': adaptive_pool_matrix, 'bilinear': bilinear_matrix}[kind](in_size, out_size)
    matrix.flags.writeable = False  # shared by every caller through the cache
    return matrix
