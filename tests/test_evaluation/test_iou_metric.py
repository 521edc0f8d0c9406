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


def _hand_case_metric(**kwargs):
    """The 4-class case above: pairs (label, pred) = (0,0) x2, (0,1), (1,1) x2, (2,2), (2,0); class 3 absent."""
    metric = IoUMetric(class_names=['a', 'b', 'c', 'd'], **kwargs)
    label = np.array([[0, 0, 1, 1], [0, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 3]])
    metric.process([pred], batch([label]))
    return metric


def test_dice_precision_recall_fscore_by_hand():
    metric = _hand_case_metric(iou_metrics=['mIoU', 'mDice', 'mFscore'])
    results = metric.evaluate()
    assert list(results) == ['mIoU', 'mDice', 'mFscore', 'mPrecision', 'mRecall']  # mFscore brings its parts
    # class 0: tp 2, fp 1, fn 1; class 1: tp 2, fp 1, fn 0; class 2: tp 1, fp 0, fn 1
    dice = np.array([4 / 6, 4 / 5, 2 / 3])
    precision = np.array([2 / 3, 2 / 3, 1.0])
    recall = np.array([2 / 3, 1.0, 1 / 2])
    assert results['mDice'] == pytest.approx(100 * dice.mean(), abs=1e-4)
    assert results['mFscore'] == pytest.approx(100 * dice.mean(), abs=1e-4)  # F1 is Dice
    assert results['mPrecision'] == pytest.approx(100 * precision.mean(), abs=1e-4)
    assert results['mRecall'] == pytest.approx(100 * recall.mean(), abs=1e-4)
    assert all(math.isnan(metric.results[key][3]) for key in ('dice', 'precision', 'recall', 'fscore'))

    f2 = _hand_case_metric(iou_metrics='mFscore', beta=2.0)
    # F2 = 5 tp / (5 tp + 4 fn + fp)
    expected = np.array([10 / 15, 10 / 11, 5 / 9]).mean()
    assert f2.evaluate()['mFscore'] == pytest.approx(100 * expected, abs=1e-4)


def test_predicted_but_never_labelled_class_scores():
    metric = IoUMetric(num_classes=2, iou_metrics=['mDice', 'mPrecision', 'mRecall'])
    metric.process([np.array([[0, 1]])], batch([np.array([[0, 0]])]))
    results = metric.evaluate()
    # class 0: tp 1, fn 1 -> Dice 2/3, P 1, R 1/2; class 1: tp 0, fp 1 -> Dice 0, P 0, recall undefined
    assert results['mDice'] == pytest.approx(100 * (2 / 3) / 2, abs=1e-4)
    assert results['mPrecision'] == pytest.approx(50.0, abs=1e-4)
    assert results['mRecall'] == pytest.approx(50.0, abs=1e-4)


def test_iou_metrics_accepts_a_single_name_string():
    # issue #16 item 6: a string used to be read as its characters ('unknown iou_metrics ['I', 'U', 'm', 'o']').
    metric = IoUMetric(num_classes=2, iou_metrics='mIoU')
    metric.process([np.array([[0, 1]])], batch([np.array([[0, 1]])]))
    assert metric.evaluate() == {'mIoU': 100.0}
    with pytest.raises(ValueError, match=r"unknown iou_metrics \['mIOU'\]"):
        IoUMetric(num_classes=2, iou_metrics='mIOU')


def test_iou_metrics_string_from_a_config_override():
    from dformer_seg.config import Config
    from dformer_seg.registry import METRICS

    cfg = Config(dict(test_evaluator=dict(type='IoUMetric')))
    cfg.merge_from_dict({'test_evaluator.iou_metrics': 'mIoU'})
    assert METRICS.build(cfg.test_evaluator, num_classes=2).iou_metrics == ['mIoU']


def test_scores_by_depth_range(tmp_path):
    import cv2

    depth = np.array([[0, 5, 15, 25], [5, 15, 0, 25]], dtype=np.uint8)
    depth_path = str(tmp_path / 'depth.png')
    cv2.imwrite(depth_path, depth)
    label = np.array([[0, 0, 1, 1], [0, 2, 2, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 3]])
    for bins, scale, names in (([10, 20], None, ['missing', '<10', '10-20', '>=20']),
                               ([1, 2], 0.1, ['missing', '<1m', '1-2m', '>=2m'])):
        metric = IoUMetric(num_classes=4, depth_bins=bins, depth_scale=scale)
        metric.process([pred], dict(gt_seg=label[None], img_metas=[dict(depth_path=depth_path)]))
        results = metric.evaluate()
        rows = {row['name']: row for row in metric.results['depth']}
        assert list(rows) == names
        # missing: (0,0), (2,0); near: (0,1), (0,0); middle: (1,1), (2,2); far: (1,1) and an ignored pixel
        assert [rows[n]['pixels'] for n in names] == [2, 2, 2, 1]
        assert rows['missing']['aAcc'] == pytest.approx(50.0) and rows['missing']['mIoU'] == pytest.approx(25.0)
        assert rows[names[1]]['mIoU'] == pytest.approx(25.0)  # class 0 IoU 1/2, class 1 predicted only: 0
        assert rows[names[2]]['mIoU'] == pytest.approx(100.0) and rows[names[3]]['aAcc'] == pytest.approx(100.0)
        below = 'below_10' if scale is None else 'below_1m'
        assert results[f'mIoU.depth_{below}'] == pytest.approx(25.0)
        keys = ['missing', below, names[2], names[3].replace('>=', 'above_')]
        assert set(results) == {'aAcc', 'mIoU', 'mAcc', 'fwIoU'} | {
            f'{metric}.depth_{key}' for metric in ('aAcc', 'mIoU') for key in keys}
        assert metric.depth_matrices.sum() == metric.matrix.sum()


def test_depth_bins_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match='increasing'):
        IoUMetric(num_classes=2, depth_bins=[2, 1])
    with pytest.raises(ValueError, match='depth_scale is only used with depth_bins'):
        IoUMetric(num_classes=2, depth_scale=0.001)
    metric = IoUMetric(num_classes=2, depth_bins=[1])
    with pytest.raises(KeyError, match='depth_path'):
        metric.process([np.array([[0, 1]])], batch([np.array([[0, 1]])]))
    with pytest.raises(Exception, match='depth file not found'):
        metric.process([np.array([[0, 1]])], dict(gt_seg=np.array([[[0, 1]]]),
                                                  img_metas=[dict(depth_path=str(tmp_path / 'none.png'))]))
