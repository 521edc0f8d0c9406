"""RGB-D image classifiers (ImageNet-style pretraining of the backbones); importing registers them."""
from .batch_mix import MixupCutmix, smoothed_one_hot
from .rgbd_classifier import RGBDImageClassifier, soft_target_cross_entropy

__all__ = ['MixupCutmix', 'RGBDImageClassifier', 'smoothed_one_hot', 'soft_target_cross_entropy']
