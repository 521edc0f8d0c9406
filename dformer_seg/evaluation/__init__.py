from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .accuracy_metric import AccuracyMetric, topk_correct
from .depth_bins import DepthBins
from .iou_metric import (
    IoUMetric,
    confusion_matrix,
    depth_table,
    metrics_from_confusion,
    overlap_scores,
    per_class_table,
)
from .rle import prediction_to_rle_records, rle_to_mask

__all__ = ['AccuracyMetric', 'topk_correct',
           'DepthBins', 'IoUMetric', 'confusion_matrix', 'depth_table', 'metrics_from_confusion',
           'overlap_scores', 'per_class_table', 'prediction_to_rle_records', 'rle_to_mask']
