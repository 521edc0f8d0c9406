# DFormerv2-S on Stanford-2D-3D-S (13 classes, fold 1: area 5 for testing, 1080x1080 images,
# 540x540 crops). The recipe follows the NYUDepthv2 one with fewer epochs for the larger set.
_base_ = ['../_base_/models/dformerv2_s.py', '../_base_/datasets/stanford2d3ds.py', '../_base_/recipes/rgbx.py']
model = dict(
    decode_head=dict(num_classes=13),
    test_cfg=dict(mode='slide', crop_size=(540, 540), stride=(360, 360)))
param_scheduler = dict(warmup_epochs=5)
train_loop = dict(max_epochs=100, val_begin=50, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
