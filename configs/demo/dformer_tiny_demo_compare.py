# The recipe of the training comparison with the official PyTorch code (docs/training.md, "Training parity
# with the official code"): the demo set and schedule, with what the official code does in its place:
# the official LightHamHead width (512 channels), its training augmentation (mirror, random scale, crop
# padded in the centre; no photometric distortion, no cat_max_ratio) and a validation after every epoch.
# tools/misc/reference/train_official.py trains the official code with the same recipe.
#   python tools/train.py configs/demo/dformer_tiny_demo_compare.py --seed 0
_base_ = './dformer_tiny_demo.py'
crop_size = (96, 128)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.75, 1.0, 1.25, 1.5]),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255, position='center'),
    dict(type='PackSegInputs'),
]
model = dict(decode_head=dict(channels=512, ham_channels=512))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
train_loop = dict(max_epochs=8, val_begin=1, val_interval=1)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=8, max_keep_ckpts=1, save_best=None))
