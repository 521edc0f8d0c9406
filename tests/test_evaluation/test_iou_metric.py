import math

import numpy as np
import pytest

from dformer_seg.evaluation import IoUMetric, confusion_matrix, metrics_from_confusion


def batch(labels):
    return dict(gt_seg=np.stack(labels), img_metas=[{} for _ in labels])


def test_hand_computed_three_class_case_with_an_absent_class():
    # 4 classes; class 3 appears in neither labels nor predictions; 255 is ignored.
    label = np.array([[0, 0, 1, 1],
                      [0, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1],
                     [0, 2, 0, 3]])
    metric = IoUMetric(class_names=['a', 'b', 'c', 'd'])
    metric.process([pred], batch([label]))
    results = metric.evaluate()
    # class 0: tp 2, label 3, pred 3 -> IoU 2/4, Acc 2/3
    # class 1: tp 2, label 2, pred 3 -> IoU 2/3, Acc 1
    # class 2: tp 1, label 2, pred 1 -> IoU 1/2, Acc 1/2
    # class 3: absent (the pixel predicted 3 has an ignored label)
    iou = np.array([2 / 4, 2 / 3, 1 / 2])
    acc = np.array([2 / 3, 1.0, 1 / 2])
    freq = np.array([3, 2, 2]) / 7
    assert results['aAcc'] == pytest.approx(100 * 5 / 7, abs=1e-4)
    assert results['mIoU'] == pytest.approx(100 * iou.mean(), abs=1e-4)
    assert results['mAcc'] == pytest.approx(100 * acc.mean(), abs=1e-4)
    assert results['fwIoU'] == pytest.approx(100 * (freq * iou).sum(), abs=1e-4)
    assert math.isnan(metric.results['iou'][3]) and math.isnan(metric.results['acc'][3])


def test_table_reports_absent_classes_not_zero(caplog):
    metric = IoUMetric(class_names=['wall', 'floor', 'sofa'])
    metric.process([np.array([[0, 2]])], batch([np.array([[0, 0]])]))
    with caplog.at_level('INFO', logger='dformer_seg'):
        metric.evaluate()
    table = caplog.text
    assert '| floor | absent | absent |' in table.replace('  ', ' ').replace('  ', ' ')
    # sofa is predicted but never labelled: IoU 0, Acc undefined
    assert 'sofa' in table and 'n/a' in table
    assert metric.results['iou'][2] == 0.0


def test_accumulates_over_batches_and_crops_padded_labels():
    metric = IoUMetric(num_classes=2)
    padded = np.full((2, 3), 255)
    padded[:2, :2] = [[0, 1], [1, 1]]
    metric.process([np.array([[0, 1], [1, 0]])], batch([padded]))
    metric.process([np.array([[1]]), np.array([[0]])], batch([np.array([[1]]), np.array([[0]])]))
    np.testing.assert_array_equal(metric.matrix, [[2, 0], [1, 3]])
    assert metric.evaluate()['aAcc'] == pytest.approx(100 * 5 / 6, abs=1e-4)
    metric.reset()
    assert metric.matrix.sum() == 0


def test_iou_metrics_selects_the_summary():
    metric = IoUMetric(num_classes=2, iou_metrics=['mIoU'])
    metric.process([np.array([[0, 1]])], batch([np.array([[0, 1]])]))
    assert metric.evaluate() == {'mIoU': 100.0}


def test_bad_inputs_are_named():
    metric = IoUMetric(num_classes=2)
    with pytest.raises(ValueError, match='predicted class ids'):
        metric.process([np.array([[0, 5]])], batch([np.array([[0, 1]])]))
    with pytest.raises(ValueError, match='label values'):
        metric.process([np.array([[0, 1]])], batch([np.array([[0, 7]])]))
    with pytest.raises(KeyError, match='gt_seg'):
        metric.process([np.array([[0, 1]])], dict(img_metas=[{}]))
    with pytest.raises(ValueError, match='num_classes'):
        IoUMetric(num_classes=3, class_names=['a'])
    with pytest.raises(ValueError, match='no labelled pixel'):
        metrics_from_confusion(np.zeros((2, 2)))
    assert confusion_matrix(np.array([1]), np.array([255]), 2).sum() == 0
