# Runtime settings shared by every config; tools/train.py and tools/test.py override them from the command line.
work_dir = None  # None: work_dirs/<config name>
load_from = None  # weights only (fine-tuning)
resume = False  # True: continue from work_dir/last_checkpoint; or a checkpoint path
seed = None  # None: a random seed, logged and stored in the checkpoints
device = 'auto'  # 'auto' | 'cpu' | 'cuda'
amp = False  # mixed precision (CUDA only); True or dict(level=5, init_scale=2.0**16, growth_interval=2000)
log_level = 'INFO'
custom_hooks = []  # e.g. [dict(type='EMAHook', momentum=0.0002)]
custom_imports = None  # e.g. dict(imports=['projects.depth_geometry'])
allow_existing_work_dir = False  # True: a new run may write over the checkpoints of an old one
