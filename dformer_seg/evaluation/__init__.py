from .iou_metric import IoUMetric, confusion_matrix, metrics_from_confusion, per_class_table
from .rle import prediction_to_rle_records, rle_to_mask

__all__ = ['IoUMetric', 'confusion_matrix', 'metrics_from_confusion', 'per_class_table',
           'prediction_to_rle_records', 'rle_to_mask']
