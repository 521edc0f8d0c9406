"""Training and evaluation engine: Runner, loops, hooks, optimizers and LR schedules."""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .. import evaluation  # noqa: F401  (registers IoUMetric in METRICS)
from ..models.base_model import parse_losses
from .hooks import *  # noqa: F401,F403
from .hooks import __all__ as _hook_names
from .loops import EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
from .optim import *  # noqa: F401,F403
from .optim import __all__ as _optim_names
from .runner import Runner, dataset_meta

__all__ = ['Runner', 'dataset_meta', 'parse_losses', 'EpochBasedTrainLoop', 'IterBasedTrainLoop', 'ValLoop',
           'TestLoop'] + list(_hook_names) + list(_optim_names)
