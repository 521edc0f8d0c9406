# DFormerv2-S on Stanford-2D-3D-S (13 classes, fold 1: area 5 for testing, 1080x1080 images,
# 540x540 crops). The recipe follows the NYUDepthv2 one with fewer epochs for the larger set.
_base_ = [
    '../_base_/models/dformerv2_s.py',
    '../_base_/datasets/stanford2d3ds.py',
    '../_base_/schedules/adamw_warmpoly.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=13),
    test_cfg=dict(mode='slide', crop_size=(540, 540), stride=(360, 360)))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=6e-05, weight_decay=0.01))
param_scheduler = dict(warmup_epochs=5, power=0.9)
train_loop = dict(max_epochs=100, val_begin=50, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
