from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .inference import SegResult, depth_channels, enable_tta, inference_model, inference_pipeline_config, init_model

__all__ = ['SegResult', 'depth_channels', 'enable_tta', 'inference_model', 'inference_pipeline_config', 'init_model']
