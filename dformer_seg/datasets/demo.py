"""A small synthetic RGB-D segmentation set, rendered by ray casting.

Each scene is a room (walls, floor, ceiling) with boxes, balls and cylinders
standing on the floor, plus small "clutter" solids labelled void (0). Every
surface gets a random colour, so colour alone does not tell the class: shape
and depth do. A pinhole camera at head height looks into the room; the depth
buffer is written as an 8-bit PNG (0 = near, 255 = ``MAX_DEPTH_M``, the
convention of the released NYUDepthv2 depth), labels as 8-bit PNGs with 0 =
void and 1..6 = ``DEMO_CLASSES``, RGB as JPEG: the official NYUDepthv2 layout.
Scene i depends only on (seed, i).
"""
import json
import os
import time

import cv2
import numpy as np

from ..registry import DATASETS
from .io import write_image_file
from .rgbd import RGBDSegDataset

DEMO_CLASSES = ('wall', 'floor', 'ceiling', 'box', 'ball', 'cylinder')
VOID = 0
WALL, FLOOR, CEILING, BOX, BALL, CYLINDER = range(1, 7)
MAX_DEPTH_M = 10.0
_EPS = 1e-6


@DATASETS.register_module()
class DemoRGBDDataset(RGBDSegDataset):
    """The generated demo set (``tools/dataset_converters/generate_demo_rgbd.py``)."""

    CLASSES = DEMO_CLASSES

    def __init__(self, data_root, pipeline=(), split='train', reduce_zero_label=True, **kwargs):
        super().__init__(data_root, pipeline=pipeline, split=split, reduce_zero_label=reduce_zero_label, **kwargs)


# ---------------------------------------------------------------------- geometry
def _rotation(yaw, pitch):
    """Camera-to-world rotation: pitch about x (negative looks down), then yaw about y."""
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    pitch_m = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    yaw_m = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return yaw_m @ pitch_m


def _safe(d):
    return np.where(np.abs(d) < _EPS, np.where(d < 0, -_EPS, _EPS), d)


def _hit_room(origin, dirs, room):
    """Nearest hit of the rays with the inside of the room box: (t, normal, label)."""
    width, length, height = room
    planes = [  # (axis, coordinate, inward normal, label)
        (0, -width / 2, (1, 0, 0), WALL), (0, width / 2, (-1, 0, 0), WALL),
        (2, length, (0, 0, -1), WALL), (2, -1.0, (0, 0, 1), WALL),
        (1, 0.0, (0, 1, 0), FLOOR), (1, height, (0, -1, 0), CEILING)]
    n = dirs.shape[0]
    best_t = np.full(n, np.inf)
    normal = np.zeros((n, 3))
    label = np.zeros(n, dtype=np.uint8)
    for axis, coord, inward, cls in planes:
        t = (coord - origin[axis]) / _safe(dirs[:, axis])
        closer = (t > _EPS) & (t < best_t)
        best_t[closer] = t[closer]
        normal[closer] = inward
        label[closer] = cls
    return best_t, normal, label


def _hit_box(origin, dirs, center, half, yaw):
    c, s = np.cos(yaw), np.sin(yaw)
    to_local = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    o = to_local @ (origin - center)
    d = dirs @ to_local.T
    inv = 1.0 / _safe(d)
    t1, t2 = (-half - o) * inv, (half - o) * inv
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_enter, t_exit = near.max(axis=1), far.min(axis=1)
    hit = (t_exit >= t_enter) & (t_enter > _EPS)
    axis = near.argmax(axis=1)
    local_n = np.zeros_like(d)
    local_n[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return np.where(hit, t_enter, np.inf), local_n @ to_local


def _hit_ball(origin, dirs, center, radius):
    oc = origin - center
    a = np.einsum('ij,ij->i', dirs, dirs)
    b = 2 * dirs @ oc
    c = oc @ oc - radius ** 2
    disc = b * b - 4 * a * c
    root = np.sqrt(np.maximum(disc, 0))
    t = (-b - root) / (2 * a)
    hit = (disc >= 0) & (t > _EPS)
    points = origin + t[:, None] * dirs
    return np.where(hit, t, np.inf), (points - center) / radius


def _hit_cylinder(origin, dirs, center, radius, height):
    """A vertical cylinder standing on y = center[1]; its side and its top disc."""
    ox, oz = origin[0] - center[0], origin[2] - center[2]
    dx, dz = dirs[:, 0], dirs[:, 2]
    a = _safe(dx * dx + dz * dz)
    b = 2 * (dx * ox + dz * oz)
    c = ox * ox + oz * oz - radius ** 2
    disc = b * b - 4 * a * c
    t_side = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    y_side = origin[1] + t_side * dirs[:, 1]
    side = (disc >= 0) & (t_side > _EPS) & (y_side >= center[1]) & (y_side <= center[1] + height)
    t_top = (center[1] + height - origin[1]) / _safe(dirs[:, 1])
    tx, tz = ox + t_top * dx, oz + t_top * dz
    top = (t_top > _EPS) & (tx * tx + tz * tz <= radius ** 2)
    t_side = np.where(side, t_side, np.inf)
    t_top = np.where(top, t_top, np.inf)
    t = np.minimum(t_side, t_top)
    points = origin + np.where(np.isfinite(t), t, 0)[:, None] * dirs
    side_n = np.stack([points[:, 0] - center[0], np.zeros(len(t)), points[:, 2] - center[2]], 1) / radius
    normal = np.where((t_top < t_side)[:, None], np.array([0.0, 1.0, 0.0]), side_n)
    return t, normal


# ---------------------------------------------------------------------- scenes
def _random_solid(rng, room, clutter):
    """A box, ball or cylinder standing on the floor; clutter is smaller and labelled void."""
    width, length, _ = room
    kind = int(rng.choice([BOX, BALL, CYLINDER]))
    scale = 0.4 if clutter else 1.0
    x = rng.uniform(-width / 2 + 0.5, width / 2 - 0.5)
    z = rng.uniform(1.5, length - 0.4)
    label = VOID if clutter else kind
    if kind == BOX:
        half = rng.uniform(0.15, 0.6, size=3) * scale
        return dict(kind=BOX, label=label, center=np.array([x, half[1], z]), half=half,
                    yaw=rng.uniform(0, np.pi))
    if kind == BALL:
        radius = rng.uniform(0.15, 0.45) * scale
        return dict(kind=BALL, label=label, center=np.array([x, radius, z]), radius=radius)
    return dict(kind=CYLINDER, label=label, center=np.array([x, 0.0, z]),
                radius=rng.uniform(0.12, 0.35) * scale, height=rng.uniform(0.4, 1.5) * scale)


def _solid_hit(solid, origin, dirs):
    if solid['kind'] == BOX:
        return _hit_box(origin, dirs, solid['center'], solid['half'], solid['yaw'])
    if solid['kind'] == BALL:
        return _hit_ball(origin, dirs, solid['center'], solid['radius'])
    return _hit_cylinder(origin, dirs, solid['center'], solid['radius'], solid['height'])


def render_scene(rng, size=(120, 160)):
    """Render one random scene: ``(rgb HxWx3 uint8 in RGB order, depth HxW float32 metres,
    label HxW uint8 raw ids: 0 void, 1..6 DEMO_CLASSES)``."""
    h, w = size
    room = (rng.uniform(4.0, 7.0), rng.uniform(4.5, 8.0), rng.uniform(2.5, 3.2))
    origin = np.array([rng.uniform(-room[0] / 4, room[0] / 4), rng.uniform(1.2, 1.7), rng.uniform(-0.5, 0.3)])
    rotation = _rotation(rng.uniform(-0.4, 0.4), rng.uniform(-0.35, -0.08))
    focal = 0.9 * w
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    cam_dirs = np.stack([(u + 0.5 - w / 2) / focal, -(v + 0.5 - h / 2) / focal, np.ones_like(u)], -1)
    dirs = cam_dirs.reshape(-1, 3) @ rotation.T  # z-component 1 in the camera frame: t is the depth

    t, normal, label = _hit_room(origin, dirs, room)
    surface = label.astype(np.int32) - 1  # colour index: one per room surface class, then one per solid
    solids = [_random_solid(rng, room, clutter=False) for _ in range(int(rng.integers(3, 8)))]
    solids += [_random_solid(rng, room, clutter=True) for _ in range(int(rng.integers(1, 4)))]
    for index, solid in enumerate(solids):
        t_solid, n_solid = _solid_hit(solid, origin, dirs)
        closer = t_solid < t
        t[closer], normal[closer] = t_solid[closer], n_solid[closer]
        label[closer] = solid['label']
        surface[closer] = 3 + index
    rgb = _shade(rng, origin, dirs, t, normal, surface, len(solids), room)
    return rgb.reshape(h, w, 3), t.reshape(h, w).astype(np.float32), label.reshape(h, w)


def _shade(rng, origin, dirs, t, normal, surface, num_solids, room):
    """Lambert shading under a ceiling light, a faint pattern per surface and sensor noise."""
    albedo = rng.uniform(0.12, 0.95, size=(3 + num_solids, 3))
    frequency = rng.uniform(2, 8, size=(3 + num_solids, 2))
    points = origin + t[:, None] * dirs
    to_light = np.array([0.0, room[2] - 0.2, room[1] * 0.45]) - points
    distance = np.linalg.norm(to_light, axis=1)
    diffuse = np.clip(np.einsum('ij,ij->i', normal, to_light) / distance, 0, 1)
    intensity = 0.3 + 0.8 * diffuse / (1 + 0.04 * distance ** 2)
    pattern = 1 + 0.08 * np.sin(frequency[surface, 0] * (points[:, 0] + points[:, 2])) \
        * np.sin(frequency[surface, 1] * points[:, 1] + surface)
    rgb = albedo[surface] * (intensity * pattern)[:, None] * 255 + rng.normal(0, 2.5, size=(len(t), 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------- writing
def depth_to_png8(depth_m):
    """Metres -> the 8-bit depth of the released data (0 = near, 255 = MAX_DEPTH_M or farther)."""
    return np.clip(np.rint(depth_m / MAX_DEPTH_M * 255.0), 0, 255).astype(np.uint8)


def generate_demo_dataset(out_dir, seed=0, num_train=240, num_test=60, size=(120, 160)):
    """Write the demo set to ``out_dir`` in the official layout and return a summary dict.

    Files: ``RGB/<name>.jpg``, ``Depth/<name>.png``, ``Label/<name>.png``,
    ``train.txt`` / ``test.txt`` (lines ``RGB/<name>.jpg Label/<name>.png``) and
    ``meta.json`` (classes, seed, counts). Sample i is rendered from the
    generator seeded with (seed, i), so the output is deterministic.
    """
    h, w = (int(v) for v in size)
    if h < 8 or w < 8:
        raise ValueError(f'size must be at least 8x8, got {size!r}')
    if num_train < 1 or num_test < 0:
        raise ValueError(f'need num_train >= 1 and num_test >= 0, got {num_train}, {num_test}')
    start = time.time()
    splits = {'train': [], 'test': []}
    for index in range(num_train + num_test):
        split = 'train' if index < num_train else 'test'
        name = f'{split}_{index:05d}'
        rgb, depth, label = render_scene(np.random.default_rng([int(seed), index]), (h, w))
        write_image_file(os.path.join(out_dir, 'RGB', name + '.jpg'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        write_image_file(os.path.join(out_dir, 'Depth', name + '.png'), depth_to_png8(depth))
        write_image_file(os.path.join(out_dir, 'Label', name + '.png'), label)
        splits[split].append(f'RGB/{name}.jpg Label/{name}.png')
    for split, lines in splits.items():
        with open(os.path.join(out_dir, f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.write(''.join(line + '\n' for line in lines))
    summary = dict(classes=list(DEMO_CLASSES), void_label=VOID, max_depth_m=MAX_DEPTH_M, seed=int(seed),
                   num_train=int(num_train), num_test=int(num_test), size=[h, w])
    with open(os.path.join(out_dir, 'meta.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    summary['seconds'] = time.time() - start
    return summary
