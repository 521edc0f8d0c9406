# The official NYUDepthv2 recipe of DFormer and DFormerv2 (local_configs/NYUDepthv2/*.py): data, schedule
# (AdamW, lr 6e-5, 500 epochs), runtime, sliding-window and multi-scale evaluation. A model config adds its
# model, the class count and the settings where its official config differs.
_base_ = ['../datasets/nyu_depth_v2.py', '../schedules/adamw_warmpoly.py', '../default_runtime.py',
          './slide_test_480x640.py', './multiscale_flip_test.py']
# The official batch size (8) is the total over all GPUs; here batch_size is per process,
# so a single process reproduces it (divide it by the number of processes otherwise).
train_dataloader = dict(batch_size=8)
