"""WorstImagesHook: per-image mIoU, the k lowest kept across batches, panels named by rank."""
import logging
import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dformer_seg.engine import WorstImagesHook
from dformer_seg.engine.hooks.worst_images_hook import image_miou


def test_image_miou_by_hand():
    label = np.array([[0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 2]])
    # class 0: IoU 1/2; class 1: IoU 1/2; class 2 predicted only at an ignored pixel: absent
    assert image_miou(pred, label, 3) == pytest.approx(50.0)
    assert image_miou(pred, np.full((1, 4), 255), 3) is None


def test_keeps_the_k_worst_and_writes_ranked_panels(tmp_path):
    size = (6, 8)
    metas, labels, preds = [], [], []
    wrong_pixels = [0, 40, 8, 24, 2]  # image i has this many of its 48 pixels predicted wrong
    for index, wrong in enumerate(wrong_pixels):
        img_path, depth_path = str(tmp_path / f'rgb_{index}.png'), str(tmp_path / f'depth_{index}.png')
        cv2.imwrite(img_path, np.full(size + (3,), 40 * index, np.uint8))
        cv2.imwrite(depth_path, np.arange(48, dtype=np.uint8).reshape(size))
        metas.append(dict(img_path=img_path, depth_path=depth_path))
        label = np.zeros(size, np.int64)
        label[:, 4:] = 1
        pred = label.copy().reshape(-1)
        pred[:wrong] = 1 - pred[:wrong]
        labels.append(label)
        preds.append(pred.reshape(size))
    runner = SimpleNamespace(dataset_meta=dict(classes=['a', 'b'], palette=[[0, 0, 0], [255, 0, 0]]),
                             logger=logging.getLogger('dformer_seg'))
    hook = WorstImagesHook(out_dir=str(tmp_path / 'worst'), k=2)
    hook.before_test_epoch(runner)
    for start in (0, 2, 4):  # three batches
        stop = min(start + 2, len(preds))
        hook.after_test_iter(runner, start // 2, dict(gt_seg=np.stack(labels[start:stop]), img_metas=metas[start:stop]),
                             preds[start:stop])
    hook.after_test_epoch(runner)
    scores = [image_miou(p, l, 2) for p, l in zip(preds, labels)]
    assert [stem for _, stem, _ in hook.ranking] == ['rgb_1', 'rgb_3']  # the two with most wrong pixels
    assert hook.ranking[0][2] == pytest.approx(scores[1]) and scores[1] < scores[3] < min(scores[0], scores[2])
    assert sorted(os.listdir(tmp_path / 'worst')) == ['00_rgb_1.png', '01_rgb_3.png']
    panel = cv2.imread(str(tmp_path / 'worst' / '00_rgb_1.png'))
    assert panel.shape[1] >= 4 * size[1] and panel.shape[0] > size[0]


def test_bad_k_is_named(tmp_path):
    with pytest.raises(ValueError, match='positive int'):
        WorstImagesHook(out_dir=str(tmp_path), k=0)
