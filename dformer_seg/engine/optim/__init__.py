from .amp import DynamicLossScaler
from .builder import (build_optimizer, build_param_groups, is_norm_layer, load_optimizer_state_dict,
                      optimizer_state_dict)
from .schedulers import ConstantLR, CosineAnnealingLR, PolyLR, WarmupPolyLR, build_scheduler

__all__ = ['DynamicLossScaler', 'build_optimizer', 'build_param_groups', 'is_norm_layer',
           'load_optimizer_state_dict', 'optimizer_state_dict', 'ConstantLR', 'CosineAnnealingLR', 'PolyLR',
           'WarmupPolyLR', 'build_scheduler']
