# Stanford-2D-3D-S (13 classes, 1080x1080), fold 1 (test: area 5), converted from the release by
#   python tools/dataset_converters/stanford2d3ds.py data/2D-3D-Semantics data/Stanford2D3DS [--hha]
# to data/Stanford2D3DS/{RGB/*.png, Depth/*.png (16-bit mm), Label/*.png (0..12, 255 ignore), HHA/*.png,
# train.txt, test.txt}. Missing depth (the release's 65535, now 0) takes the nearest measured value.
# HHA instead of depth: depth_dir='HHA' in the three data sets and
#   dict(type='LoadDepthFromFile', channels=3, color_type='color', color_order='rgb', modality='HHA')
# with depth_mean/depth_std of 3 values (e.g. the RGB ones).
# NYUDepthv2's settings with photometric distortion, this depth loader, 540x540 crops and scales up to 1.25.
_base_ = './_nyu_photometric.py'
dataset_type = 'Stanford2D3DSDataset'
data_root = 'data/Stanford2D3DS'
crop_size = (540, 540)
_step_args = dict(LoadDepthFromFile=dict(raw_depth_range=(0, 10000), hole_fill='nearest'),
                  RandomResize=dict(ratios=[0.5, 0.75, 1.0, 1.25]),
                  RandomCrop=dict(crop_size=crop_size), Pad=dict(size=crop_size))
train_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.train_pipeline}}]
test_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.test_pipeline}}]
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
