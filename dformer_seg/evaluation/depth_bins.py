"""Depth ranges for depth-aware evaluation: which range each pixel's depth falls in.

Depth is read from the sample's depth file, in the data set's own units (the
8-bit 0..255 of the released NYUDepthv2/SUNRGBD depth, millimetres of a raw
16-bit file, ...), or in metres when a ``scale`` (metres per unit) is given.
A raw 0 means "no measurement" and gets its own bucket, whatever the edges.
"""
import math

import numpy as np

from ..datasets.io import READ_GRAYSCALE_ANY_DEPTH, read_image_file

MISSING = 'missing'


def _format_number(value):
    return f'{value:g}'


class DepthBins:
    """Buckets ``0: missing depth``, then ``(0, e1)``, ``[e1, e2)``, ..., ``[ek, inf)`` for edges e1 < ... < ek.

    Args:
        edges: increasing positive boundaries between the ranges, in the data
            set's depth units, or in metres when ``scale`` is given.
        scale: metres per depth unit (e.g. 0.001 for millimetres, 10 / 255 for
            the demo set's 8-bit depth); None keeps the data set's units.
    """

    def __init__(self, edges, scale=None):
        edges = [float(e) for e in edges]
        if not edges:
            raise ValueError('depth_bins needs at least one edge, e.g. [1, 2, 3] (ranges <1, 1-2, 2-3, >=3)')
        if any(not math.isfinite(e) or e <= 0 for e in edges) or any(b <= a for a, b in zip(edges, edges[1:])):
            raise ValueError(f'depth_bins must be finite, positive and increasing, got {edges}')
        if scale is not None and not (math.isfinite(float(scale)) and float(scale) > 0):
            raise ValueError(f'depth_scale must be a positive number (metres per depth unit), got {scale!r}')
        self.edges = edges
        self.scale = None if scale is None else float(scale)
        unit = 'm' if self.scale is not None else ''
        inner = [f'{_format_number(a)}-{_format_number(b)}{unit}' for a, b in zip(edges, edges[1:])]
        self.names = ([MISSING, f'<{_format_number(edges[0])}{unit}'] + inner
                      + [f'>={_format_number(edges[-1])}{unit}'])
        # The same ranges spelt for metric names (letters, digits, '.', '-', '_' only: TensorBoard tags).
        self.keys = ([MISSING, f'below_{_format_number(edges[0])}{unit}'] + inner
                     + [f'above_{_format_number(edges[-1])}{unit}'])

    def __len__(self):
        return len(self.names)

    def bucket_map(self, depth):
        """Bucket index (0 = missing) of every pixel of a raw depth map (data set units)."""
        depth = np.asarray(depth, dtype=np.float64)
        if self.scale is not None:
            depth = depth * self.scale
        buckets = np.digitize(depth, self.edges) + 1
        return np.where(depth > 0, buckets, 0)

    @staticmethod
    def read_depth(meta):
        """The raw depth map of a sample, from ``meta['depth_path']``."""
        path = (meta or {}).get('depth_path')
        if not path:
            raise KeyError("depth-aware evaluation (depth_bins) reads each sample's depth file, but the sample "
                           'metadata has no depth_path (samples given as arrays cannot be binned by depth)')
        return read_image_file(path, READ_GRAYSCALE_ANY_DEPTH, 'depth')
