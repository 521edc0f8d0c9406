# The built-in synthetic RGB-D set (6 classes, 120x160 images, NYUDepthv2 layout).
# Generate it first:  python tools/dataset_converters/generate_demo_rgbd.py --out data/demo_rgbd --seed 0
dataset_type = 'DemoRGBDDataset'
data_root = 'data/demo_rgbd'
crop_size = (96, 128)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])  # depth: the official 0.48 / 0.28, times 255
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.75, 1.0, 1.25, 1.5]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='PackSegInputs'),
]
# Evaluation: no geometric transform; labels are loaded last and stay at the original size.
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1),
    dict(type='Normalize', **img_norm),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=2, shuffle=True, drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=2, shuffle=False, drop_last=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric')
test_evaluator = val_evaluator
