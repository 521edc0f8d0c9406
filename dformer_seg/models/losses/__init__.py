from .accuracy import Accuracy, accuracy
from .base import BaseLoss
from .cross_entropy_loss import CrossEntropyLoss, binary_cross_entropy, cross_entropy
from .dice_loss import DiceLoss, dice_loss
from .focal_loss import FocalLoss, focal_loss
from .lovasz_loss import LovaszLoss, lovasz_softmax_loss

__all__ = ['Accuracy', 'BaseLoss', 'CrossEntropyLoss', 'DiceLoss', 'FocalLoss', 'LovaszLoss', 'accuracy',
           'binary_cross_entropy', 'cross_entropy', 'dice_loss', 'focal_loss', 'lovasz_softmax_loss']
