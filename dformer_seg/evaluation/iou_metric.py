"""IoUMetric: a confusion matrix over the whole set -> aAcc, mIoU, mAcc, fwIoU and a per-class table."""
import logging

import numpy as np

from ..registry import METRICS
from ..utils.misc import all_reduce_sum

logger = logging.getLogger('dformer_seg')

SUMMARY_METRICS = ('aAcc', 'mIoU', 'mAcc', 'fwIoU')


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


def per_class_table(class_names, iou, acc, label_area, pred_area):
    from terminaltables import AsciiTable

    rows = [['Class', 'IoU', 'Acc']]
    for name, class_iou, class_acc, labelled, predicted in zip(class_names, iou, acc, label_area, pred_area):
        if labelled == 0 and predicted == 0:
            rows.append([name, 'absent', 'absent'])
        else:
            rows.append([name, f'{class_iou:.2f}', 'n/a' if np.isnan(class_acc) else f'{class_acc:.2f}'])
    table = AsciiTable(rows)
    table.inner_footing_row_border = False
    return table.table


@METRICS.register_module()
class IoUMetric:
    """Semantic-segmentation metrics accumulated over a whole evaluation set.

    ``process(preds, data_batch)`` adds each prediction (an ``(H, W)`` int array
    at the image's ``ori_shape``) and its label (``data_batch['gt_seg'][i]``,
    cropped to the prediction's size when the batch was padded) to a confusion
    matrix. ``evaluate()`` sums the matrices of all MPI processes, logs the
    per-class table and returns ``aAcc, mIoU, mAcc, fwIoU`` (percent).

    ``class_names`` usually comes from the dataset (the runner passes it);
    ``num_classes`` alone gives the classes numbered names.
    ``iou_metrics`` picks which summary metrics are returned.
    """

    def __init__(self, num_classes=None, class_names=None, ignore_index=255, iou_metrics=SUMMARY_METRICS):
        if class_names is None and num_classes is None:
            raise ValueError('IoUMetric needs class_names (from the dataset) or num_classes')
        if class_names is not None and num_classes is not None and len(class_names) != num_classes:
            raise ValueError(f'num_classes={num_classes} but {len(class_names)} class names were given')
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        self.num_classes = len(self.class_names)
        unknown = set(iou_metrics) - set(SUMMARY_METRICS)
        if unknown:
            raise ValueError(f'unknown iou_metrics {sorted(unknown)}; choose from {SUMMARY_METRICS}')
        self.iou_metrics = [m for m in SUMMARY_METRICS if m in iou_metrics]
        self.ignore_index = ignore_index
        self.results = None
        self.reset()

    def reset(self):
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.num_samples = 0

    def process(self, preds, data_batch):
        if 'gt_seg' not in data_batch:
            raise KeyError('IoUMetric needs labels: the batch has no gt_seg (use --format-only to predict '
                           'without evaluating)')
        labels = _as_numpy(data_batch['gt_seg'])
        if len(labels) != len(preds):
            raise ValueError(f'{len(preds)} predictions for a batch of {len(labels)} labels')
        for pred, label in zip(preds, labels):
            pred = np.asarray(pred)
            height, width = pred.shape
            if label.shape[0] < height or label.shape[1] < width:
                raise ValueError(f'label {label.shape} is smaller than the prediction {pred.shape}; predictions '
                                 f'must be at the original image size (ori_shape)')
            self.matrix += confusion_matrix(pred, label[:height, :width], self.num_classes, self.ignore_index)
            self.num_samples += 1

    def evaluate(self):
        matrix = all_reduce_sum(self.matrix)
        num_samples = int(all_reduce_sum([self.num_samples])[0])
        summary, iou, acc, label_area, pred_area = metrics_from_confusion(matrix)
        self.results = dict(summary=summary, iou=iou, acc=acc, matrix=matrix, num_samples=num_samples)
        logger.info(f'per-class results ({num_samples} images):\n'
                    + per_class_table(self.class_names, iou, acc, label_area, pred_area))
        return {name: round(float(summary[name]), 4) for name in self.iou_metrics}
