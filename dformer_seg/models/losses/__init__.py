from .accuracy import Accuracy, accuracy
from .cross_entropy_loss import CrossEntropyLoss, binary_cross_entropy, cross_entropy

__all__ = ['Accuracy', 'CrossEntropyLoss', 'accuracy', 'binary_cross_entropy', 'cross_entropy']
