"""HHA encoding on rendered planes of known height and orientation."""
import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.hha import (
    ANGLE_OFFSET_DEG,
    Intrinsics,
    depth_to_hha,
    encode_hha,
    hha_channels,
    parse_intrinsics,
)

H, W = 60, 80
CAMERA_HEIGHT = 1.4  # metres above the floor
WALL_DISTANCE = 3.0  # metres, horizontally in front of the camera
BOX_TOP = 0.5  # a table-like horizontal plane this high, in a band of the image


def render(pitch_deg=25.0, roll_deg=0.0, with_box=True):
    """Depth (camera z, metres) of a floor, a wall in front and optionally a horizontal box top, seen by a
    camera pitched down by ``pitch_deg`` and rolled by ``roll_deg``; also the true up vector (camera
    coordinates) and each pixel's surface: 0 floor, 1 wall, 2 box top."""
    intrinsics = Intrinsics(fx=70.0, fy=70.0, cx=(W - 1) / 2, cy=(H - 1) / 2)
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(u - intrinsics.cx) / intrinsics.fx, (v - intrinsics.cy) / intrinsics.fy, np.ones_like(u)], -1)
    pitch, roll = np.radians(pitch_deg), np.radians(roll_deg)
    # camera -> world (x right, y up, z forward): flip y, roll about z, then pitch down about x
    flip = np.diag([1.0, -1.0, 1.0])
    roll_m = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    pitch_m = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    to_world = pitch_m @ roll_m @ flip
    world = rays @ to_world.T
    with np.errstate(divide='ignore'):
        t_floor = np.where(world[..., 1] < 0, CAMERA_HEIGHT / -world[..., 1], np.inf)
        t_wall = np.where(world[..., 2] > 0, WALL_DISTANCE / world[..., 2], np.inf)
        t_box = np.where(world[..., 1] < 0, (CAMERA_HEIGHT - BOX_TOP) / -world[..., 1], np.inf)
    # the box top covers world x in [-0.6, 0.6] and z in [1.2, 2.2]
    hit = t_box[..., None] * world
    on_box = with_box & (np.abs(hit[..., 0]) < 0.6) & (hit[..., 2] > 1.2) & (hit[..., 2] < 2.2)
    t_box = np.where(on_box, t_box, np.inf)
    stack = np.stack([t_floor, t_wall, t_box])
    surface = stack.argmin(axis=0)
    return stack.min(axis=0), intrinsics, to_world.T @ np.array([0.0, 1.0, 0.0]), surface


@pytest.mark.parametrize('pitch, roll', [(25.0, 0.0), (15.0, 10.0)])
def test_gravity_height_and_angle_of_rendered_planes(pitch, roll):
    depth, intrinsics, true_up, surface = render(pitch, roll)
    channels = hha_channels(depth, intrinsics)
    assert np.degrees(np.arccos(np.clip(channels.up @ true_up, -1, 1))) < 1.0
    assert channels.floor_height == pytest.approx(-CAMERA_HEIGHT, abs=0.02)
    # Each plane away from its edges (the normals there fit a window across two surfaces).
    floor, wall, box = (cv2.erode((surface == k).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
                        for k in range(3))
    assert box.sum() > 50
    assert np.nanmedian(channels.angle[floor]) < 1.0 and np.nanmedian(channels.angle[box]) < 1.0
    assert abs(np.nanmedian(channels.angle[wall]) - 90.0) < 1.0
    assert np.nanmedian(np.abs(channels.height[floor])) < 0.02
    assert np.nanmedian(channels.height[box]) == pytest.approx(BOX_TOP, abs=0.02)
    np.testing.assert_allclose(channels.disparity, 1.0 / depth)
    # the height of every wall point: its world height above the floor
    points = np.stack([(np.arange(W) - intrinsics.cx)[None, :] / intrinsics.fx * depth,
                       (np.arange(H) - intrinsics.cy)[:, None] / intrinsics.fy * depth, depth], -1)
    true_height = points @ true_up + CAMERA_HEIGHT
    assert np.nanmedian(np.abs(channels.height[wall] - true_height[wall])) < 0.02


def test_encoding_scales_and_missing_pixels():
    depth, intrinsics, _, surface = render(with_box=False)
    depth[10:14, 20:30] = 0.0  # a hole
    hha, channels = depth_to_hha(depth, intrinsics)
    assert hha.dtype == np.uint8 and hha.shape == (H, W, 3)
    assert (hha[10:14, 20:30] == 0).all()
    y, x = 40, 40
    assert surface[y, x] == 0  # floor: angle 0 -> 38, height 0
    assert hha[y, x, 0] == round(min(310.0 / depth[y, x], 255)) and hha[y, x, 1] <= 2
    assert abs(int(hha[y, x, 2]) - ANGLE_OFFSET_DEG) <= 1
    assert np.array_equal(encode_hha(channels), hha)


def test_floor_out_of_view_is_assumed_below_the_camera():
    depth, intrinsics, true_up, _ = render(pitch_deg=-20.0, with_box=False)  # looking up at the wall only
    channels = hha_channels(depth, intrinsics, up=true_up)
    assert channels.floor_height == pytest.approx(-1.3)


def test_bad_intrinsics_and_depth():
    assert parse_intrinsics([500, 510, 320, 240]) == Intrinsics(500.0, 510.0, 320.0, 240.0)
    scannet_style = np.eye(4)
    scannet_style[:3, :3] = [[577.9, 0, 319.5], [0, 577.9, 239.5], [0, 0, 1]]
    assert parse_intrinsics(scannet_style).cx == 319.5
    with pytest.raises(DataError, match=r'K\.txt: intrinsics must be a 3x3 camera matrix.*got 6 value\(s\) of '
                                        r'shape \(2, 3\)'):
        parse_intrinsics(np.ones((2, 3)), 'K.txt')
    with pytest.raises(DataError, match='focal lengths must be positive'):
        parse_intrinsics([0, 500, 320, 240])
    intrinsics = Intrinsics(50.0, 50.0, 10.0, 10.0)
    with pytest.raises(DataError, match='d.png: depth is 0 .missing. everywhere'):
        hha_channels(np.zeros((20, 20)), intrinsics, source='d.png')
    depth = np.ones((20, 20))
    depth[3, 3] = np.nan
    with pytest.raises(DataError, match='d.png: depth has NaN'):
        hha_channels(depth, intrinsics, source='d.png')
