# ScanNet-v2 (the 20 benchmark classes, 480x640 frames), converted from the 2D frames by
#   python tools/dataset_converters/scannet.py data/scannet_frames_25k data/ScanNetV2 \
#       --train-scenes scannetv2_train.txt --val-scenes scannetv2_val.txt
# to data/ScanNetV2/{RGB/*.jpg, Depth/*.png (16-bit mm), Label/*.png (0..19, 255 ignore), train.txt, val.txt}.
# Sensor holes (depth 0) take the value of the nearest measured pixel.
dataset_type = 'ScanNetV2Dataset'
data_root = 'data/ScanNetV2'
crop_size = (480, 640)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])
_load_depth = dict(type='LoadDepthFromFile', channels=3, raw_depth_range=(0, 10000), hole_fill='nearest')
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    _load_depth,
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255, position='center'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    _load_depth,
    dict(type='Normalize', **img_norm),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=4, shuffle=True, drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, shuffle=False, drop_last=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric')
test_evaluator = val_evaluator
