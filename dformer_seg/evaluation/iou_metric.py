"""IoUMetric: a confusion matrix over the whole set -> aAcc, mIoU, mAcc, fwIoU (and on request mDice,
mFscore/mPrecision/mRecall, and the same scores per depth range) with a per-class table."""
import logging

import numpy as np

from ..registry import METRICS
from ..utils.dist import all_reduce_sum
from .depth_bins import DepthBins

logger = logging.getLogger('dformer_seg')

SUMMARY_METRICS = ('aAcc', 'mIoU', 'mAcc', 'fwIoU')
# Every name iou_metrics accepts, in the order results are returned; 'mFscore' brings its parts along (as in mmseg).
KNOWN_METRICS = SUMMARY_METRICS + ('mDice', 'mFscore', 'mPrecision', 'mRecall')
_IMPLIED = {'mFscore': ('mFscore', 'mPrecision', 'mRecall')}
# Per-class columns of the table, by the summary metric that asks for them.
_CLASS_COLUMNS = {'mDice': ('Dice', 'dice'), 'mFscore': ('Fscore', 'fscore'), 'mPrecision': ('Precision', 'precision'),
                  'mRecall': ('Recall', 'recall')}


def _as_numpy(value):
    return value.numpy() if hasattr(value, 'numpy') else np.asarray(value)


def confusion_matrix(pred, label, num_classes, ignore_index=255):
    """``num_classes x num_classes`` counts, rows = label, columns = prediction."""
    pred = np.asarray(pred)
    label = np.asarray(label)
    if pred.shape != label.shape:
        raise ValueError(f'prediction shape {pred.shape} differs from label shape {label.shape}')
    valid = label != ignore_index
    label = label[valid].astype(np.int64)
    pred = pred[valid].astype(np.int64)
    if label.size and (label.min() < 0 or label.max() >= num_classes):
        raise ValueError(f'label values must be in [0, {num_classes}) or {ignore_index} (ignored); found '
                         f'{sorted(set(np.unique(label)) - set(range(num_classes)))[:5]}')
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f'predicted class ids must be in [0, {num_classes}); found {pred.min()}..{pred.max()}')
    counts = np.bincount(label * num_classes + pred, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


def metrics_from_confusion(matrix):
    """Per-class IoU/Acc (NaN where undefined) and the summary metrics, in percent.

    A class absent from both labels and predictions has no IoU and no Acc (NaN)
    and is left out of the means; a class that is predicted but never labelled
    has IoU 0 (every prediction of it is wrong) and no Acc.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    label_area = matrix.sum(axis=1)
    pred_area = matrix.sum(axis=0)
    union = label_area + pred_area - tp
    total = matrix.sum()
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = np.where(union > 0, tp / union, np.nan)
        acc = np.where(label_area > 0, tp / label_area, np.nan)
    if total == 0:
        raise ValueError('no labelled pixel was evaluated (every label is ignore_index?)')
    freq = label_area / total
    present = label_area > 0
    summary = dict(
        aAcc=100.0 * tp.sum() / total,
        mIoU=100.0 * float(np.nanmean(iou)) if np.any(union > 0) else float('nan'),
        mAcc=100.0 * float(np.nanmean(acc)) if np.any(present) else float('nan'),
        fwIoU=100.0 * float(np.sum(freq[present] * iou[present])),
    )
    return summary, 100.0 * iou, 100.0 * acc, label_area, pred_area


def overlap_scores(matrix, beta=1.0):
    """Per-class Dice, precision, recall and F-beta score (percent) of a confusion matrix.

    With TP, FP, FN the counts of a class: Dice = 2TP / (2TP + FP + FN),
    precision = TP / (TP + FP), recall = TP / (TP + FN) and
    F-beta = (1 + beta^2) TP / ((1 + beta^2) TP + beta^2 FN + FP), which is Dice for beta = 1.
    Each is NaN where its denominator is 0 (precision of a class never
    predicted, recall of a class never labelled, all of them for an absent class).
    """
    if beta <= 0:
        raise ValueError(f'beta of the F-score must be positive, got {beta}')
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    fn = matrix.sum(axis=1) - tp
    fp = matrix.sum(axis=0) - tp
    b2 = beta * beta

    def ratio(numerator, denominator):
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(denominator > 0, 100.0 * numerator / denominator, np.nan)

    return dict(dice=ratio(2 * tp, 2 * tp + fp + fn), precision=ratio(tp, tp + fp), recall=ratio(tp, tp + fn),
                fscore=ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp))


def _nan_mean(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float('nan')


def per_class_table(class_names, iou, acc, label_area, pred_area, extra_columns=None):
    """The per-class table; ``extra_columns`` adds ``{title: per-class values}`` after IoU and Acc."""
    from terminaltables import AsciiTable

    extra_columns = extra_columns or {}
    rows = [['Class', 'IoU', 'Acc'] + list(extra_columns)]
    for index, (name, class_iou, class_acc, labelled, predicted) in enumerate(
            zip(class_names, iou, acc, label_area, pred_area)):
        if labelled == 0 and predicted == 0:
            rows.append([name] + ['absent'] * (2 + len(extra_columns)))
        else:
            values = [class_acc] + [column[index] for column in extra_columns.values()]
            rows.append([name, f'{class_iou:.2f}'] + ['n/a' if np.isnan(v) else f'{v:.2f}' for v in values])
    table = AsciiTable(rows)
    table.inner_footing_row_border = False
    return table.table


def _parse_metric_names(iou_metrics):
    """``iou_metrics`` (a name or a list of names) -> the names to return, in KNOWN_METRICS order."""
    names = [iou_metrics] if isinstance(iou_metrics, str) else list(iou_metrics)
    if not names or not all(isinstance(name, str) for name in names):
        raise ValueError(f'iou_metrics must be a metric name or a non-empty list of names, got {iou_metrics!r}')
    unknown = sorted(set(names) - set(KNOWN_METRICS))
    if unknown:
        raise ValueError(f'unknown iou_metrics {unknown}; choose from {KNOWN_METRICS}')
    wanted = set()
    for name in names:
        wanted.update(_IMPLIED.get(name, (name,)))
    return [name for name in KNOWN_METRICS if name in wanted]


@METRICS.register_module()
class IoUMetric:
    """Semantic-segmentation metrics accumulated over a whole evaluation set.

    ``process(preds, data_batch)`` adds each prediction (an ``(H, W)`` int array
    at the image's ``ori_shape``) and its label (``data_batch['gt_seg'][i]``,
    cropped to the prediction's size when the batch was padded) to a confusion
    matrix. ``evaluate()`` sums the matrices of all MPI processes, logs the
    per-class table and returns the ``iou_metrics`` (percent).

    Args:
        num_classes / class_names: ``class_names`` usually comes from the
            dataset (the runner passes it); ``num_classes`` alone gives the
            classes numbered names.
        ignore_index: label value left out.
        iou_metrics: a name or a list of names among ``aAcc, mIoU, mAcc, fwIoU,
            mDice, mFscore, mPrecision, mRecall`` ('mFscore' also returns
            mPrecision and mRecall).
        beta: the beta of the F-score (1: F1, which equals Dice).
        depth_bins: edges of depth ranges (see :class:`DepthBins`); the
            metric then also reads each sample's depth file
            (``img_metas[i]['depth_path']``) and reports aAcc, mIoU and mAcc per
            range and on the pixels with missing depth (raw 0), returned as
            ``mIoU.depth_<range key>`` (e.g. ``mIoU.depth_below_2m``, ``mIoU.depth_2-3m``,
            ``mIoU.depth_missing``) and kept in ``results['depth']``.
        depth_scale: metres per depth unit; with it, ``depth_bins`` are in metres.
    """

    def __init__(self, num_classes=None, class_names=None, ignore_index=255, iou_metrics=SUMMARY_METRICS,
                 beta=1.0, depth_bins=None, depth_scale=None):
        if class_names is None and num_classes is None:
            raise ValueError('IoUMetric needs class_names (from the dataset) or num_classes')
        if class_names is not None and num_classes is not None and len(class_names) != num_classes:
            raise ValueError(f'num_classes={num_classes} but {len(class_names)} class names were given')
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        self.num_classes = len(self.class_names)
        self.iou_metrics = _parse_metric_names(iou_metrics)
        if beta <= 0:
            raise ValueError(f'beta of the F-score must be positive, got {beta}')
        self.beta = float(beta)
        if depth_scale is not None and depth_bins is None:
            raise ValueError('depth_scale is only used with depth_bins (the edges of the depth ranges)')
        self.depth_bins = DepthBins(depth_bins, depth_scale) if depth_bins is not None else None
        self.ignore_index = ignore_index
        self.results = None
        self.reset()

    def reset(self):
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        if self.depth_bins is not None:
            self.depth_matrices = np.zeros((len(self.depth_bins), self.num_classes, self.num_classes), np.int64)
        self.num_samples = 0

    def process(self, preds, data_batch):
        if 'gt_seg' not in data_batch:
            raise KeyError('IoUMetric needs labels: the batch has no gt_seg (use --format-only to predict '
                           'without evaluating)')
        labels = _as_numpy(data_batch['gt_seg'])
        if len(labels) != len(preds):
            raise ValueError(f'{len(preds)} predictions for a batch of {len(labels)} labels')
        metas = data_batch.get('img_metas') or [None] * len(preds)
        for pred, label, meta in zip(preds, labels, metas):
            pred = np.asarray(pred)
            height, width = pred.shape
            if label.shape[0] < height or label.shape[1] < width:
                raise ValueError(f'label {label.shape} is smaller than the prediction {pred.shape}; predictions '
                                 f'must be at the original image size (ori_shape)')
            label = label[:height, :width]
            self.matrix += confusion_matrix(pred, label, self.num_classes, self.ignore_index)
            if self.depth_bins is not None:
                self._add_by_depth(pred, label, meta)
            self.num_samples += 1

    def _add_by_depth(self, pred, label, meta):
        depth = DepthBins.read_depth(meta)
        if depth.shape != pred.shape:
            raise ValueError(f'depth file {meta["depth_path"]} is {depth.shape[0]}x{depth.shape[1]} but the '
                             f'prediction is {pred.shape[0]}x{pred.shape[1]}')
        buckets = self.depth_bins.bucket_map(depth)
        for bucket in np.unique(buckets):
            inside = buckets == bucket
            self.depth_matrices[bucket] += confusion_matrix(pred[inside], label[inside], self.num_classes,
                                                            self.ignore_index)

    def _depth_results(self):
        """Per depth range: its name, labelled pixel count and aAcc/mIoU/mAcc (NaN when it has no pixel)."""
        matrices = all_reduce_sum(self.depth_matrices)
        rows = []
        for name, key, matrix in zip(self.depth_bins.names, self.depth_bins.keys, matrices):
            pixels = int(matrix.sum())
            if pixels:
                summary = metrics_from_confusion(matrix)[0]
            else:
                summary = dict(aAcc=float('nan'), mIoU=float('nan'), mAcc=float('nan'))
            rows.append(dict(name=name, key=key, pixels=pixels,
                             **{metric: float(summary[metric]) for metric in ('aAcc', 'mIoU', 'mAcc')}))
        return rows

    def evaluate(self):
        matrix = all_reduce_sum(self.matrix)
        num_samples = int(all_reduce_sum([self.num_samples])[0])
        summary, iou, acc, label_area, pred_area = metrics_from_confusion(matrix)
        overlap = overlap_scores(matrix, self.beta)
        summary.update(mDice=_nan_mean(overlap['dice']), mFscore=_nan_mean(overlap['fscore']),
                       mPrecision=_nan_mean(overlap['precision']), mRecall=_nan_mean(overlap['recall']))
        self.results = dict(summary=summary, iou=iou, acc=acc, matrix=matrix, num_samples=num_samples, **overlap)
        columns = {_CLASS_COLUMNS[name][0]: overlap[_CLASS_COLUMNS[name][1]]
                   for name in self.iou_metrics if name in _CLASS_COLUMNS}
        logger.info(f'per-class results ({num_samples} images):\n'
                    + per_class_table(self.class_names, iou, acc, label_area, pred_area, columns))
        metrics = {name: round(float(summary[name]), 4) for name in self.iou_metrics}
        if self.depth_bins is not None:
            self.results['depth'] = self._depth_results()
            logger.info('results by depth range:\n' + depth_table(self.results['depth']))
            for row in self.results['depth']:
                if row['pixels']:
                    metrics.update({f'{key}.depth_{row["key"]}': round(row[key], 4) for key in ('aAcc', 'mIoU')})
        return metrics


def depth_table(rows):
    """A text table of :meth:`IoUMetric._depth_results` rows."""
    from terminaltables import AsciiTable

    total = sum(row['pixels'] for row in rows) or 1
    lines = [['Depth', 'Pixels', 'Share', 'aAcc', 'mIoU', 'mAcc']]
    for row in rows:
        scores = [('n/a' if np.isnan(row[key]) else f'{row[key]:.2f}') for key in ('aAcc', 'mIoU', 'mAcc')]
        lines.append([row['name'], str(row['pixels']), f'{100.0 * row["pixels"] / total:.1f}%'] + scores)
    return AsciiTable(lines).table
