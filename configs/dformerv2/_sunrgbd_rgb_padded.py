# SUNRGBD as the official code feeds it to DFormerv2 (not a runnable config on its own:
# the dformerv2_*_sunrgbd.py configs inherit it in place of the plain SUNRGBD data config).
# Two differences from DFormer v1 (official RGBXDataset / ValPre with --pad_SUNRGBD):
# * images are read in RGB order (v1 uses OpenCV's BGR);
# * at test time the raw image, depth and label are padded at the bottom/right to
#   531x730 (image and depth with 0, before normalisation), so that every image of
#   the test set has one size; predictions are cropped back to each image's size.
_base_ = '../_base_/datasets/sunrgbd.py'
_img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                 depth_mean=[122.4], depth_std=[71.4])
_crop_size = (480, 480)
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='rgb'),
    dict(type='LoadDepthFromFile', channels=3),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75]),
    dict(type='RandomCrop', crop_size=_crop_size, cat_max_ratio=1.0),
    dict(type='Normalize', **_img_norm),
    dict(type='Pad', size=_crop_size, pad_val=0, seg_pad_val=255, position='center'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='rgb'),
    dict(type='LoadDepthFromFile', channels=3),
    dict(type='Pad', size=(531, 730), pad_val=0, seg_pad_val=255),
    dict(type='Normalize', **_img_norm),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
