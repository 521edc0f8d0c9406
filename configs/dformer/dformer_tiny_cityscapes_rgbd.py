# DFormer-Tiny on Cityscapes with depth from stereo disparity (19 classes, 1024x2048 images,
# 512x1024 crops). A starting point for outdoor RGB-D, not an official DFormer recipe.
_base_ = [
    '../_base_/models/dformer_tiny.py',
    '../_base_/datasets/cityscapes_rgbd.py',
    '../_base_/schedules/adamw_warmpoly.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=19),
    test_cfg=dict(mode='slide', crop_size=(512, 1024), stride=(341, 682)))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=6e-05, weight_decay=0.01))
param_scheduler = dict(warmup_epochs=5, power=0.9)
train_loop = dict(max_epochs=200, val_begin=100, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
