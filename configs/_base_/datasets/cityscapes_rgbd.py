# Cityscapes with depth from stereo disparity (19 classes, 1024x2048), converted by
#   python tools/dataset_converters/cityscapes_disparity.py data/cityscapes data/CityscapesRGBD
# to data/CityscapesRGBD/{RGB/*.png, Depth/*.tiff (float32 metres, 0 = none), Label/*.png (trainIds),
# train.txt, val.txt}. Depth 0..80 m maps to 0..255; pixels without disparity (mostly sky) keep the
# missing-depth value 0.
dataset_type = 'CityscapesRGBDDataset'
data_root = 'data/CityscapesRGBD'
crop_size = (512, 1024)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])
_load_depth = dict(type='LoadDepthFromFile', channels=3, float_depth_range=(0.0, 80.0))
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    _load_depth,
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
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
