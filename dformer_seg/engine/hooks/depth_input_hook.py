import jittor as jt

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class DepthInputHook(Hook):
    """An ablation switch for the depth modality: ``mode='zero'`` replaces every batch's depth by
    zeros (training, validation and testing), giving an RGB-only run of the same config;
    ``mode='keep'`` leaves it alone. Runs first, before any other hook sees the batch.

    Example: ``--cfg-options default_hooks.depth_input.mode=zero``.
    """

    priority = 'HIGHEST'
    MODES = ('keep', 'zero')

    def __init__(self, mode='keep'):
        if mode not in self.MODES:
            raise ValueError(f'DepthInputHook mode must be one of {self.MODES}, got {mode!r}')
        self.mode = mode

    def _apply(self, runner, batch_idx, data_batch=None):
        if self.mode == 'zero' and data_batch is not None:
            data_batch['depth'] = jt.zeros_like(data_batch['depth'])

    before_train_iter = _apply
    before_val_iter = _apply
    before_test_iter = _apply
