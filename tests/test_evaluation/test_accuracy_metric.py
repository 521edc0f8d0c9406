import numpy as np
import pytest

from dformer_seg.config import ConfigError
from dformer_seg.evaluation import AccuracyMetric, topk_correct


def test_topk_correct():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    assert topk_correct(scores, [1, 1, 0], (1, 2, 5)) == [1, 2, 3]


def test_accuracy_over_batches():
    metric = AccuracyMetric(topk=(1, 2), class_names=['a', 'b', 'c'])
    metric.process([np.array([0.1, 0.7, 0.2]), np.array([0.5, 0.3, 0.2])], dict(gt_label=np.array([1, 1])))
    metric.process([np.array([0.2, 0.3, 0.5])], dict(gt_label=np.array([0])))
    np.testing.assert_allclose(list(metric.evaluate().values()), [100 / 3, 200 / 3])
    metric.reset()
    with pytest.raises(ValueError, match='no sample'):
        metric.evaluate()


def test_model_for_another_class_count_is_named():
    metric = AccuracyMetric(class_names=['a', 'b'])
    with pytest.raises(ConfigError, match=r'scores 3 classes but the data set has 2: set model.num_classes=2'):
        metric.process([np.zeros(3)], dict(gt_label=np.array([0])))
