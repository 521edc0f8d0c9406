from .checkpoint_hook import CheckpointHook
from .depth_input_hook import DepthInputHook
from .ema_hook import EMAHook
from .hook import PRIORITIES, Hook, get_priority
from .invalid_loss_hook import CheckInvalidLossHook
from .iter_timer_hook import IterTimerHook
from .logger_hook import TextLoggerHook
from .param_scheduler_hook import ParamSchedulerHook
from .seg_output_hook import SegOutputHook
from .tensorboard_hook import TensorboardLoggerHook
from .worst_images_hook import WorstImagesHook

__all__ = ['Hook', 'PRIORITIES', 'get_priority', 'CheckpointHook', 'CheckInvalidLossHook',
           'DepthInputHook', 'EMAHook', 'IterTimerHook', 'ParamSchedulerHook', 'SegOutputHook', 'TextLoggerHook',
           'TensorboardLoggerHook', 'WorstImagesHook']
