# Cityscapes with depth from stereo disparity (19 classes, 1024x2048), converted by
#   python tools/dataset_converters/cityscapes_disparity.py data/cityscapes data/CityscapesRGBD
# to data/CityscapesRGBD/{RGB/*.png, Depth/*.tiff (float32 metres, 0 = none), Label/*.png (trainIds),
# train.txt, val.txt}. Depth 0..80 m maps to 0..255; pixels without disparity (mostly sky) keep the
# missing-depth value 0.
# NYUDepthv2's settings with photometric distortion, this depth loader, 512x1024 crops, scales up to 2.0,
# padding at the bottom/right (Pad's default) and the 'val' split.
_base_ = './_nyu_photometric.py'
dataset_type = 'CityscapesRGBDDataset'
data_root = 'data/CityscapesRGBD'
crop_size = (512, 1024)
_step_args = dict(LoadDepthFromFile=dict(float_depth_range=(0.0, 80.0)),
                  RandomResize=dict(ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]),
                  RandomCrop=dict(crop_size=crop_size))
_pad = dict(type='Pad', size=crop_size, pad_val=0, seg_pad_val=255)  # at the bottom/right: Pad's default position
train_pipeline = [_pad if step['type'] == 'Pad' else dict(step, **_step_args.get(step['type'], {}))
                  for step in {{_base_.train_pipeline}}]
test_pipeline = [dict(step, **_step_args.get(step['type'], {})) for step in {{_base_.test_pipeline}}]
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
