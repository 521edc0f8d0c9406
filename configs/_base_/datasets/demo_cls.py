# The built-in synthetic RGB-D classification set (6 classes: box / ball / cylinder x small / large,
# 64x64 object-centred views; trained on 48x48 crops, evaluated on the whole view). Generate it first:
#   python tools/dataset_converters/generate_demo_cls.py --out data/demo_cls --seed 0
# Colour order and normalisation are those of the segmentation demo (configs/_base_/datasets/demo_rgbd.py),
# which fine-tunes from the pretrained backbone.
dataset_type = 'RGBDClassificationDataset'
data_root = 'data/demo_cls/images'
_depth_root = 'data/demo_cls/depth'
crop_size = 48
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthAnySize', channels=1),
    dict(type='RandomResizedCrop', size=crop_size, scale=(0.35, 1.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandAugment', num_ops=2, magnitude=9, magnitude_std=0.5),
    dict(type='Normalize', **img_norm),
    dict(type='RandomErasing', prob=0.25, mode='pixel'),
    dict(type='PackClsInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthAnySize', channels=1),
    dict(type='Normalize', **img_norm),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, shuffle=True, drop_last=True,
    dataset=dict(type=dataset_type, data_root=data_root, depth_root=_depth_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=2, shuffle=False, drop_last=False,
    dataset=dict(type=dataset_type, data_root=data_root, depth_root=_depth_root, split='val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccuracyMetric', topk=(1, 5))
test_evaluator = val_evaluator
