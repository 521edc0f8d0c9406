"""AccuracyMetric: top-k classification accuracy over a whole evaluation set (summed over MPI processes)."""
import logging

import numpy as np

from ..config import ConfigError
from ..registry import METRICS
from ..utils.dist import all_reduce_sum

logger = logging.getLogger('dformer_seg')


def topk_correct(scores, labels, topk):
    """For each k of ``topk``: how many rows of ``scores`` (N, C) have their label among the k best."""
    scores, labels = np.asarray(scores), np.asarray(labels).reshape(-1)
    order = np.argsort(-scores, axis=1, kind='stable')
    hits = order == labels[:, None]
    return [int(hits[:, :min(k, scores.shape[1])].any(axis=1).sum()) for k in topk]


@METRICS.register_module()
class AccuracyMetric:
    """Top-k accuracy (percent) of an image classifier: ``process(preds, data_batch)`` takes one score vector
    per image (``model(batch, mode='predict')``) and ``data_batch['gt_label']``; ``evaluate()`` returns
    ``{'top1': ..., 'top5': ...}`` (one entry per ``topk``; k is capped at the class count).

    ``class_names`` (the runner passes the data set's) must match the length of the score vectors: a
    model made for another number of classes stops with an error naming both counts.
    """

    def __init__(self, topk=(1, 5), class_names=None):
        topk = (topk,) if isinstance(topk, int) else tuple(topk)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(f'topk must be positive ints, got {topk!r}')
        self.topk = topk
        self.class_names = list(class_names) if class_names is not None else None
        self.reset()

    def reset(self):
        self.correct = np.zeros(len(self.topk), dtype=np.int64)
        self.count = 0

    def process(self, preds, data_batch):
        if 'gt_label' not in data_batch:
            raise KeyError('AccuracyMetric needs labels: the batch has no gt_label')
        labels = np.asarray(data_batch['gt_label'].numpy() if hasattr(data_batch['gt_label'], 'numpy')
                            else data_batch['gt_label']).reshape(-1)
        scores = np.stack([np.asarray(p).reshape(-1) for p in preds])
        if len(scores) != len(labels):
            raise ValueError(f'{len(scores)} predictions for a batch of {len(labels)} labels')
        if self.class_names is not None and scores.shape[1] != len(self.class_names):
            raise ConfigError(f'the model scores {scores.shape[1]} classes but the data set has '
                              f'{len(self.class_names)}: set model.num_classes={len(self.class_names)}')
        self.correct += topk_correct(scores, labels, self.topk)
        self.count += len(labels)

    def evaluate(self):
        totals = all_reduce_sum(np.concatenate([self.correct, [self.count]]).astype(np.int64))
        count = int(totals[-1])
        if count == 0:
            raise ValueError('AccuracyMetric: no sample was evaluated')
        results = {f'top{k}': 100.0 * float(c) / count for k, c in zip(self.topk, totals[:-1])}
        logger.info(f'accuracy over {count} images: ' + ', '.join(f'{k} {v:.2f}' for k, v in results.items()))
        return results
