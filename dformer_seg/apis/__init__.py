from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .inference import SegResult, enable_tta, inference_model, inference_pipeline_config, init_model

__all__ = ['SegResult', 'enable_tta', 'inference_model', 'inference_pipeline_config', 'init_model']
