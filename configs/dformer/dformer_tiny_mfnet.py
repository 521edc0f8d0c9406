# DFormer-Tiny on MFNet RGB-T (9 classes): thermal in place of depth. The recipe follows the NYUDepthv2
# one (AdamW 6e-5, warm-up + poly); MFNet has no official DFormer recipe, so it is a starting point.
_base_ = [
    '../_base_/models/dformer_tiny.py',
    '../_base_/datasets/mfnet.py',
    '../_base_/schedules/adamw_warmpoly.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=9),
    test_cfg=dict(mode='whole'))
train_dataloader = dict(batch_size=8)
optim_wrapper = dict(optimizer=dict(lr=6e-05, weight_decay=0.01))
param_scheduler = dict(warmup_epochs=10, power=0.9)
train_loop = dict(max_epochs=300, val_begin=150, val_interval=25)
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
