# ImageNet-1K with one depth map per image, read as RGBD-Pretrain reads it (github VCIP-RGBD/RGBD-Pretrain):
#   data/ImageNet/{train,val}/<class>/<name>.JPEG and data/Depth_ImageNet/{train,val}/<class>/<name>.png
# (estimate the depth with tools/dataset_converters/estimate_depth.py; RGBD-Pretrain's own Depth_ImageNet
# files are named <name>_depth.jpg: set depth_suffix='_depth.jpg' in both loaders for them).
dataset_type = 'RGBDClassificationDataset'
data_root = 'data/ImageNet'
_depth_root = 'data/Depth_ImageNet'
crop_size = 224
# RGBD-Pretrain feeds RGB (PIL order) + depth as one 4-channel tensor, normalised by timm's loader with the
# ImageNet mean/std averaged over the 3 colour channels for all 4 channels: 0.449 and 0.226, times 255.
img_norm = dict(mean=[114.495] * 3, std=[57.63] * 3, depth_mean=[114.495], depth_std=[57.63])
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='rgb'),
    dict(type='LoadDepthAnySize', channels=1),
    dict(type='RandomResizedCrop', size=crop_size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
    dict(type='RandomFlip', prob=0.5),
    # rand-m9-mstd0.5-inc1; timm turns its colour jitter (0.4) off when RandAugment is on.
    dict(type='RandAugment', num_ops=2, magnitude=9, magnitude_std=0.5),
    dict(type='Normalize', **img_norm),
    dict(type='RandomErasing', prob=0.25, mode='pixel'),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='rgb'),
    dict(type='LoadDepthAnySize', channels=1),
    dict(type='CenterCropResize', size=crop_size, crop_pct=0.875),
    dict(type='Normalize', **img_norm),
    dict(type='PackClsInputs'),
]
# batch_size is per process: 8 processes x 128 = RGBD-Pretrain's global batch of 1024.
train_dataloader = dict(
    batch_size=128, num_workers=16, shuffle=True, drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, depth_root=_depth_root, split='train',
                 depth_suffix='.png', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, num_workers=16, shuffle=False, drop_last=False,
    dataset=dict(type=dataset_type, data_root=data_root, depth_root=_depth_root, split='val',
                 depth_suffix='.png', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccuracyMetric', topk=(1, 5))
test_evaluator = val_evaluator
