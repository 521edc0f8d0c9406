from .conv_module import ConvModule, build_activation_layer, build_norm_layer
from .drop_path import DropPath
from .wrappers import resize

__all__ = ['ConvModule', 'DropPath', 'build_activation_layer', 'build_norm_layer', 'resize']
