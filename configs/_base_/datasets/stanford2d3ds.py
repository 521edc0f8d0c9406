# Stanford-2D-3D-S (13 classes, 1080x1080), fold 1 (test: area 5), converted from the release by
#   python tools/dataset_converters/stanford2d3ds.py data/2D-3D-Semantics data/Stanford2D3DS [--hha]
# to data/Stanford2D3DS/{RGB/*.png, Depth/*.png (16-bit mm), Label/*.png (0..12, 255 ignore), HHA/*.png,
# train.txt, test.txt}. Missing depth (the release's 65535, now 0) takes the nearest measured value.
# HHA instead of depth: depth_dir='HHA' in the three data sets and
#   dict(type='LoadDepthFromFile', channels=3, color_type='color', color_order='rgb', modality='HHA')
# with depth_mean/depth_std of 3 values (e.g. the RGB ones).
dataset_type = 'Stanford2D3DSDataset'
data_root = 'data/Stanford2D3DS'
crop_size = (540, 540)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])
_load_depth = dict(type='LoadDepthFromFile', channels=3, raw_depth_range=(0, 10000), hole_fill='nearest')
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    _load_depth,
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25]),
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
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric')
test_evaluator = val_evaluator
