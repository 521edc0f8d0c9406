# NYUDepthv2 (40 classes) in the layout released with DFormer:
#   data/NYUDepthv2/{RGB/*.jpg, Depth/*.png, Label/*.png, train.txt, test.txt}
# Preprocessing of the official code: images as OpenCV stores them (BGR) with the
# ImageNet mean/std applied in that order, depth (x/255 - 0.48)/0.28 repeated to 3
# channels; training: flip, random scale [0.5 .. 1.75] of the image size, crop
# 480x640, pad (normalized 0, label 255). Evaluation: normalization only.
dataset_type = 'NYUDepthV2Dataset'
data_root = 'data/NYUDepthv2'
crop_size = (480, 640)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])  # = ImageNet and 0.48 / 0.28, times 255
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=3),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255, position='center'),
    dict(type='PackSegInputs'),
]
# No geometric transform at test time: labels are loaded last and stay at the original size.
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=3),
    dict(type='Normalize', **img_norm),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=4, shuffle=True, drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, shuffle=False, drop_last=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric')
test_evaluator = val_evaluator
