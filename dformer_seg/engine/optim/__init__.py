from .amp import DynamicLossScaler
from .builder import (
    AdamW,
    build_optimizer,
    build_param_groups,
    is_norm_layer,
    load_optimizer_state_dict,
    optimizer_state_dict,
)
from .optim_wrapper import AmpOptimWrapper, OptimWrapper, build_optim_wrapper
from .schedulers import ConstantLR, CosineAnnealingLR, PolyLR, WarmupPolyLR, build_scheduler

__all__ = ['AdamW', 'DynamicLossScaler', 'build_optimizer', 'build_param_groups', 'is_norm_layer',
           'load_optimizer_state_dict', 'optimizer_state_dict', 'AmpOptimWrapper', 'OptimWrapper',
           'build_optim_wrapper', 'ConstantLR', 'CosineAnnealingLR', 'PolyLR', 'WarmupPolyLR', 'build_scheduler']
