# The demo recipe with ModalityDropout: each training sample loses its depth with probability 0.3
# (replaced by the missing-depth value, LoadDepthFromFile.missing_value), so the model also works
# without depth. The measured effect (mIoU with and without depth at test time) is in docs/data.md.
#   python tools/train.py configs/demo/dformer_tiny_demo_modality_dropout.py
#   # the same recipe without dropout (p = 0):
#   python tools/train.py configs/demo/dformer_tiny_demo_modality_dropout.py \
#       --cfg-options train_dataloader.dataset.pipeline.7.prob=0.0
#   # evaluate with the depth removed from every test image:
#   python tools/test.py configs/demo/dformer_tiny_demo_modality_dropout.py CHECKPOINT \
#       --cfg-options test_dataloader.dataset.pipeline.2.prob=1.0
_base_ = './dformer_tiny_demo.py'
crop_size = (96, 128)
img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                depth_mean=[122.4], depth_std=[71.4])
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1, missing_value=0),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.75, 1.0, 1.25, 1.5]),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='PhotoMetricDistortion'),
    dict(type='ModalityDropout', prob=0.3),  # last random step: p = 0 gives the plain demo's samples
    dict(type='Normalize', **img_norm),
    dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1, missing_value=0),
    dict(type='ModalityDropout', prob=0.0),  # 1.0: evaluate without depth
    dict(type='Normalize', **img_norm),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
