from .conv_module import BatchNorm, ConvModule, build_activation_layer, build_norm_layer
from .drop_path import DropPath
from .pooling import adaptive_pool_matrix, bilinear_matrix, resampling_matrix
from .wrappers import resize

__all__ = ['BatchNorm', 'ConvModule', 'DropPath', 'adaptive_pool_matrix', 'bilinear_matrix', 'build_activation_layer',
           'build_norm_layer', 'resampling_matrix', 'resize']
