# DFormer-Tiny on Cityscapes with depth from stereo disparity (19 classes, 1024x2048 images,
# 512x1024 crops). A starting point for outdoor RGB-D, not an official DFormer recipe.
_base_ = ['../_base_/models/dformer_tiny.py', '../_base_/datasets/cityscapes_rgbd.py', '../_base_/recipes/rgbx.py']
model = dict(
    decode_head=dict(num_classes=19),
    test_cfg=dict(mode='slide', crop_size=(512, 1024), stride=(341, 682)))
param_scheduler = dict(warmup_epochs=5)
train_loop = dict(max_epochs=200, val_begin=100, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
