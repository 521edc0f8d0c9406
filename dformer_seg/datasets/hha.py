"""HHA encoding of a depth map (Gupta, Girshick, Arbelaez and Malik, ECCV 2014).

Three channels per pixel: horizontal disparity, height above the ground, and
the angle between the local surface normal and gravity. Gravity is estimated
from the depth itself (Gupta, Arbelaez and Malik, CVPR 2013): starting from the
camera's up axis, it is refined a few times as the direction most parallel to
the normals that are nearly parallel to it (floors, table tops, ceilings) and
most perpendicular to the normals nearly perpendicular to it (walls).

Camera coordinates are OpenCV's: x right, y down, z forward; depth in metres.
Everything is vectorised numpy/OpenCV (a few 480x640 maps per second on one core).
"""
import json
import os
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import DataError

CAMERA_UP = (0.0, -1.0, 0.0)
# Refinement schedule of the gravity estimate: angle thresholds (degrees), iterations each.
GRAVITY_SCHEDULE = ((45.0, 5), (15.0, 5))
TIE_BREAK_WEIGHT = 1e-3
GRAVITY_SAMPLES = 20000
# Encoding of the released HHA images: disparity 310 / depth[m] (= 31000 / depth[cm]),
# height in centimetres, angle in degrees + 38 (so 90 degrees, a wall, is 128); all clipped to 0..255.
DISPARITY_NUMERATOR_M = 310.0
HEIGHT_UNITS_PER_M = 100.0
ANGLE_OFFSET_DEG = 38.0
# When the lowest visible point is less than this far below the camera, the floor is not in view and is
# assumed to lie DEFAULT_CAMERA_HEIGHT_M below the camera (a person holding the camera).
MIN_FLOOR_DROP_M = 0.9
DEFAULT_CAMERA_HEIGHT_M = 1.3


@dataclass
class Intrinsics:
    fx: float
    fy: float
    cx: float
    cy: float


def parse_intrinsics(values, source='intrinsics'):
    """:class:`Intrinsics` from a 3x3 camera matrix (or the 3x4/4x4 matrices ScanNet writes, whose top-left
    3x3 block is the camera matrix) or from 4 values ``fx fy cx cy``."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape == (4,):
        fx, fy, cx, cy = array
    elif array.shape in ((3, 3), (3, 4), (4, 4)):
        matrix = array[:3, :3]
        if not np.allclose(matrix[2], (0.0, 0.0, 1.0)) or abs(matrix[1, 0]) > 1e-9:
            raise DataError(f'{source}: the camera matrix must have the form [[fx, s, cx], [0, fy, cy], [0, 0, 1]], '
                            f'got {matrix.tolist()}')
        fx, fy, cx, cy = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
    else:
        raise DataError(f'{source}: intrinsics must be a 3x3 camera matrix (3x4 or 4x4 with the camera matrix '
                        f'top-left) or 4 values fx fy cx cy; got {array.size} value(s) of shape {array.shape}')
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        raise DataError(f'{source}: focal lengths must be positive and all values finite, got '
                        f'fx={fx}, fy={fy}, cx={cx}, cy={cy}')
    return Intrinsics(float(fx), float(fy), float(cx), float(cy))


def read_intrinsics(path):
    """Intrinsics from a text file of numbers (3x3, 3x4, 4x4 or 4 values) or a JSON file holding a
    ``camera_k_matrix`` (Stanford-2D-3D-S pose files) or ``K``."""
    if not os.path.isfile(path):
        raise DataError(f'intrinsics file not found: {path}')
    if path.lower().endswith('.json'):
        with open(path, encoding='utf-8') as f:
            try:
                content = json.load(f)
            except json.JSONDecodeError as exc:
                raise DataError(f'intrinsics file {path} is not valid JSON: {exc}') from None
        key = next((k for k in ('camera_k_matrix', 'K') if isinstance(content, dict) and k in content), None)
        if key is None:
            raise DataError(f'intrinsics file {path} has no "camera_k_matrix" or "K" entry')
        return parse_intrinsics(content[key], f'intrinsics file {path} ({key})')
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(f'intrinsics file {path} is not a table of numbers: {exc}') from None
    if values.shape[0] == 1:
        values = values[0]
    return parse_intrinsics(values, f'intrinsics file {path}')


def backproject(depth_m, intrinsics):
    """HxWx3 camera coordinates of every pixel (x right, y down, z = depth forward)."""
    h, w = depth_m.shape
    u = (np.arange(w, dtype=np.float64) - intrinsics.cx) / intrinsics.fx
    v = (np.arange(h, dtype=np.float64) - intrinsics.cy) / intrinsics.fy
    z = depth_m.astype(np.float64)
    return np.stack([u[None, :] * z, v[:, None] * z, z], axis=2)


def estimate_normals(points, valid, window=7):
    """Unit surface normals (HxWx3, facing the camera) from a plane fit to the valid points in a
    ``window`` x ``window`` neighbourhood; pixels with too few neighbours get NaN."""
    weights = valid.astype(np.float64)
    coords = [points[:, :, i] * weights for i in range(3)]

    def box(image):
        return cv2.boxFilter(image, cv2.CV_64F, (window, window), normalize=False, borderType=cv2.BORDER_CONSTANT)

    count = box(weights)
    enough = valid & (count >= 3)
    n = np.maximum(count, 1.0)
    means = [box(c) / n for c in coords]
    cov = np.empty(points.shape[:2] + (3, 3))
    for i in range(3):
        for j in range(i, 3):
            cov[:, :, i, j] = cov[:, :, j, i] = box(coords[i] * coords[j]) / n - means[i] * means[j]
    normals = np.full(points.shape, np.nan)
    _, vectors = np.linalg.eigh(cov[enough])
    chosen = vectors[:, :, 0]  # eigh sorts eigenvalues ascending: the plane's normal comes first
    facing_away = np.einsum('ij,ij->i', chosen, points[enough]) > 0
    chosen[facing_away] *= -1
    normals[enough] = chosen
    return normals


def estimate_gravity(normals, initial=CAMERA_UP, schedule=GRAVITY_SCHEDULE):
    """The up direction (unit 3-vector, camera coordinates) that best explains the normals: for each
    (threshold, iterations) step, normals within ``threshold`` degrees of the current estimate count as
    horizontal surfaces and those within ``threshold`` of perpendicular as walls."""
    candidates = normals[np.isfinite(normals).all(axis=-1)].reshape(-1, 3)
    candidates = candidates[::max(1, len(candidates) // GRAVITY_SAMPLES)]  # an even subsample is as good
    up = np.asarray(initial, dtype=np.float64)
    for threshold, iterations in schedule:
        cos_t, sin_t = np.cos(np.radians(threshold)), np.sin(np.radians(threshold))
        for _ in range(iterations):
            similarity = np.abs(candidates @ up)
            horizontal, walls = candidates[similarity > cos_t], candidates[similarity < sin_t]
            if len(horizontal) + len(walls) < 3:
                break
            # Minimise sum((wall . g)^2) - sum((horizontal . g)^2): the smallest eigenvector. A small pull
            # towards the current estimate decides the cases the normals leave open (only walls in view).
            tie_break = TIE_BREAK_WEIGHT * (len(horizontal) + len(walls)) * np.outer(up, up)
            _, vectors = np.linalg.eigh(walls.T @ walls - horizontal.T @ horizontal - tie_break)
            new_up = vectors[:, 0]
            up = -new_up if new_up @ up < 0 else new_up  # an eigenvector's sign is arbitrary: keep "up" up
    return up / np.linalg.norm(up)


@dataclass
class HHAChannels:
    """The physical HHA quantities (NaN where depth is missing)."""
    disparity: np.ndarray  # 1 / depth, 1/m
    height: np.ndarray     # metres above the estimated floor
    angle: np.ndarray      # degrees between the surface normal and up (0 = floor, 90 = wall)
    up: np.ndarray         # unit up vector in camera coordinates
    floor_height: float    # of the floor relative to the camera along ``up`` (negative: below)


def hha_channels(depth_m, intrinsics, up=None, window=7, source='depth array'):
    """Disparity, height and angle of every pixel of ``depth_m`` (metres, 0 = missing).

    ``up``: a known up vector in camera coordinates; None estimates it from the depth.
    """
    depth_m = np.asarray(depth_m, dtype=np.float64)
    if depth_m.ndim != 2:
        raise DataError(f'{source}: depth must be an HxW map, got shape {depth_m.shape}')
    if not np.isfinite(depth_m).all() or (depth_m < 0).any():
        raise DataError(f'{source}: depth has NaN, infinite or negative values; mark missing depth with 0')
    valid = depth_m > 0
    if not valid.any():
        raise DataError(f'{source}: depth is 0 (missing) everywhere; there is nothing to encode')
    points = backproject(depth_m, intrinsics)
    normals = estimate_normals(points, valid, window)
    if up is None:
        up = estimate_gravity(normals)
    up = np.asarray(up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    heights = points @ up
    lowest = float(heights[valid].min())
    floor = lowest if lowest < -MIN_FLOOR_DROP_M else -DEFAULT_CAMERA_HEIGHT_M
    missing = ~valid
    with np.errstate(divide='ignore', invalid='ignore'):
        disparity = np.where(valid, 1.0 / depth_m, np.nan)
    angle = np.degrees(np.arccos(np.clip(normals @ up, -1.0, 1.0)))
    height = heights - floor
    height[missing] = np.nan
    angle[missing] = np.nan
    return HHAChannels(disparity, height, angle, up, floor)


def encode_hha(channels):
    """HxWx3 uint8 in R, G, B order = (disparity, height, angle), with the scales of the released HHA
    images; missing pixels are 0 in all three."""
    encoded = np.stack([channels.disparity * DISPARITY_NUMERATOR_M, channels.height * HEIGHT_UNITS_PER_M,
                        channels.angle + ANGLE_OFFSET_DEG], axis=2)
    encoded = np.nan_to_num(encoded, nan=0.0)
    return np.clip(np.rint(encoded), 0, 255).astype(np.uint8)


def depth_to_hha(depth_m, intrinsics, up=None, window=7, source='depth array'):
    """``(hha, channels)``: the HHA image (HxWx3 uint8, RGB order) of a metric depth map and the
    :class:`HHAChannels` it encodes."""
    channels = hha_channels(depth_m, intrinsics, up=up, window=window, source=source)
    return encode_hha(channels), channels
