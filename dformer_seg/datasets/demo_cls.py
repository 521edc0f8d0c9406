"""A small synthetic RGB-D classification set for the pretraining demo, from the demo renderer.

Each image is an object-centred view, rendered like the segmentation demo's rooms: one box, ball or
cylinder on the floor of a room (with a few small clutter solids), the camera aimed at it. The six
classes are kind x size: a "small" object is 0.18-0.30 m across its characteristic radius, a "large"
one 0.40-0.65 m. The camera distance is drawn so that the object's angular size is the same for both
sizes (small objects are seen from near, large from far), so the size class shows in the depth map
(and in perspective cues), not in the object's extent in the picture. Colours are random per surface.
Files are written in the ImageNet layout that ``RGBDClassificationDataset`` reads; view i depends only
on (seed, i).
"""
import json
import os
import time

import cv2
import numpy as np

from .demo import BALL, BOX, CYLINDER, _hit_room, _random_solid, _rotation, _shade, _solid_hit, depth_to_png8
from .io import write_image_file

DEMO_CLS_CLASSES = ('small_box', 'large_box', 'small_ball', 'large_ball', 'small_cylinder', 'large_cylinder')
_KINDS = (BOX, BALL, CYLINDER)
SIZE_RANGES = ((0.18, 0.30), (0.40, 0.65))  # characteristic radius in metres: small, large
ANGULAR_RADIUS = (0.10, 0.16)  # radians: the object's apparent size, independent of its class


def _object(rng, kind, radius, x, z):
    if kind == BOX:
        half = radius * rng.uniform(0.7, 1.3, size=3)
        return dict(kind=BOX, label=1, center=np.array([x, half[1], z]), half=half, yaw=rng.uniform(0, np.pi))
    if kind == BALL:
        return dict(kind=BALL, label=1, center=np.array([x, radius, z]), radius=radius)
    height = radius * rng.uniform(1.8, 3.0)
    return dict(kind=CYLINDER, label=1, center=np.array([x, 0.0, z]), radius=radius * rng.uniform(0.6, 0.9),
                height=height, mid_height=height / 2)


def render_object_view(rng, label, size=(64, 64)):
    """``(rgb HxWx3 uint8 in RGB order, depth HxW float32 metres)`` of one view of class ``label``
    (an index into ``DEMO_CLS_CLASSES``)."""
    h, w = size
    kind, large = _KINDS[label // 2], label % 2
    room = (rng.uniform(6.0, 9.0), rng.uniform(9.0, 12.0), rng.uniform(2.6, 3.2))
    radius = rng.uniform(*SIZE_RANGES[large])
    target = _object(rng, kind, radius, rng.uniform(-1.0, 1.0), rng.uniform(7.0, room[1] - 1.0))
    aim = target['center'] + np.array([0.0, target.get('mid_height', 0.0), 0.0])
    distance = radius / rng.uniform(*ANGULAR_RADIUS)
    eye_height = rng.uniform(1.1, 1.7)
    horizontal = np.sqrt(max(distance ** 2 - (eye_height - aim[1]) ** 2, 0.25))
    approach = rng.uniform(-0.3, 0.3)
    origin = np.array([aim[0] - horizontal * np.sin(approach), eye_height, aim[2] - horizontal * np.cos(approach)])
    rotation = _rotation(approach, np.arctan2(aim[1] - eye_height, horizontal))
    focal = 2.0 * w
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    cam_dirs = np.stack([(u + 0.5 - w / 2) / focal, -(v + 0.5 - h / 2) / focal, np.ones_like(u)], -1)
    dirs = cam_dirs.reshape(-1, 3) @ rotation.T

    t, normal, label_map = _hit_room(origin, dirs, room)
    surface = label_map.astype(np.int32) - 1
    solids = [target] + [_random_solid(rng, room, clutter=True) for _ in range(int(rng.integers(0, 3)))]
    for index, solid in enumerate(solids):
        t_solid, n_solid = _solid_hit(solid, origin, dirs)
        closer = t_solid < t
        t[closer], normal[closer] = t_solid[closer], n_solid[closer]
        surface[closer] = 3 + index
    rgb = _shade(rng, origin, dirs, t, normal, surface, len(solids), room)
    return rgb.reshape(h, w, 3), t.reshape(h, w).astype(np.float32)


def generate_demo_cls_dataset(out_dir, seed=0, num_train_per_class=150, num_val_per_class=50, size=(64, 64)):
    """Write ``out_dir/images/{train,val}/<class>/<name>.jpg`` and ``out_dir/depth/...png`` (8-bit,
    0 = near, 255 = 10 m, as the segmentation demo) plus ``meta.json``; return a summary dict."""
    h, w = (int(v) for v in size)
    if h < 32 or w < 32:
        raise ValueError(f'size must be at least 32x32 (the backbones downsample 32 times), got {size!r}')
    if num_train_per_class < 1 or num_val_per_class < 1:
        raise ValueError(f'need at least one training and one validation view per class, got '
                         f'{num_train_per_class}, {num_val_per_class}')
    start = time.time()
    index = 0
    for split, count in (('train', num_train_per_class), ('val', num_val_per_class)):
        for number in range(count):
            for label, name in enumerate(DEMO_CLS_CLASSES):
                rgb, depth = render_object_view(np.random.default_rng([int(seed), index]), label, (h, w))
                stem = os.path.join(split, name, f'{split}_{index:06d}')
                write_image_file(os.path.join(out_dir, 'images', stem + '.jpg'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                write_image_file(os.path.join(out_dir, 'depth', stem + '.png'), depth_to_png8(depth))
                index += 1
    summary = dict(classes=list(DEMO_CLS_CLASSES), seed=int(seed), num_train_per_class=int(num_train_per_class),
                   num_val_per_class=int(num_val_per_class), size=[h, w])
    with open(os.path.join(out_dir, 'meta.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    summary['seconds'] = time.time() - start
    return summary
