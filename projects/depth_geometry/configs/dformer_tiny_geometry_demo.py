# The demo recipe (configs/demo/dformer_tiny_demo.py) with the depth_geometry project:
# depth -> (depth, slope_x, slope_y), a GeometryDFormer that learns how to mix them into
# its depth stream, and a hook that logs that mix. Run from the repository root:
#   python tools/dataset_converters/generate_demo_rgbd.py --out data/demo_rgbd --seed 0
#   python tools/train.py projects/depth_geometry/configs/dformer_tiny_geometry_demo.py
_base_ = '../../../configs/demo/dformer_tiny_demo.py'

# Registers DepthToGeometry, GeometryDFormer and GeometryMixLoggerHook (the repository
# root must be importable: tools/*.py put it on sys.path).
custom_imports = dict(imports=['projects.depth_geometry'])

model = dict(backbone=dict(type='GeometryDFormer', geometry_channels=3))

# A child config must rebuild the pipelines it changes (and the loaders that hold them):
# the base's loaders keep the lists the base built.
_crop_size = (96, 128)
_img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                 # depth as in the demo recipe; encoded slopes are centred on 127.5
                 depth_mean=[122.4, 127.5, 127.5], depth_std=[71.4, 50.0, 50.0])
_geometry = dict(type='DepthToGeometry', strength=1.0, blur=5)
train_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.75, 1.0, 1.25, 1.5]),
    dict(type='RandomCrop', crop_size=_crop_size, cat_max_ratio=0.75),
    dict(type='PhotoMetricDistortion'),
    _geometry,  # after flip/resize/crop (they change slopes), before Normalize
    dict(type='Normalize', **_img_norm),
    dict(type='Pad', size=_crop_size, pad_val=0, seg_pad_val=255),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_order='bgr'),
    dict(type='LoadDepthFromFile', channels=1),
    _geometry,
    dict(type='Normalize', **_img_norm),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

custom_hooks = [dict(type='GeometryMixLoggerHook', interval=10)]
