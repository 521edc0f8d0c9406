# DFormer-Tiny on ScanNet-v2 (the 20 benchmark classes, 480x640 frames). The recipe follows the
# NYUDepthv2 one with fewer epochs for the larger set (about 19k training frames of scannet_frames_25k).
_base_ = [
    '../_base_/models/dformer_tiny.py',
    '../_base_/datasets/scannet_v2.py',
    '../_base_/schedules/adamw_warmpoly.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=20),
    test_cfg=dict(mode='slide', crop_size=(480, 640), stride=(320, 426)))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=6e-05, weight_decay=0.01))
param_scheduler = dict(warmup_epochs=2, power=0.9)
train_loop = dict(max_epochs=40, val_begin=20, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
