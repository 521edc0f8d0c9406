# ScanNet-v2 (the 20 benchmark classes, 480x640 frames), converted from the 2D frames by
#   python tools/dataset_converters/scannet.py data/scannet_frames_25k data/ScanNetV2 \
#       --train-scenes scannetv2_train.txt --val-scenes scannetv2_val.txt
# to data/ScanNetV2/{RGB/*.jpg, Depth/*.png (16-bit mm), Label/*.png (0..19, 255 ignore), train.txt, val.txt}.
# Sensor holes (depth 0) take the value of the nearest measured pixel.
# NYUDepthv2's settings (480x640 crops) with photometric distortion, this depth loader and the 'val' split.
_base_ = './_nyu_photometric.py'
dataset_type = 'ScanNetV2Dataset'
data_root = 'data/ScanNetV2'
_step_args = dict(LoadDepthFromFile=dict(raw_depth_range=(0, 10000), hole_fill='nearest'))
train_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.train_pipeline}}]
test_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.test_pipeline}}]
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
