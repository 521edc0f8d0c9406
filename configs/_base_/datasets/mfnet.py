# MFNet RGB-T (9 classes, 'unlabeled' included, 480x640), converted from the release by
#   python tools/dataset_converters/mfnet.py data/ir_seg_dataset data/MFNet
# to data/MFNet/{RGB/*.png, Thermal/*.png, Label/*.png, train.txt, val.txt, test.txt}.
# The thermal image takes the place of depth (8-bit, read as it is, repeated to 3 channels).
dataset_type = 'MFNetDataset'
data_root = 'data/MFNet'
crop_size = (480, 640)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])  # the second modality uses DFormer's depth statistics
_load_thermal = dict(type='LoadDepthFromFile', channels=3, modality='thermal')
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    _load_thermal,
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255, position='center'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    _load_thermal,
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
