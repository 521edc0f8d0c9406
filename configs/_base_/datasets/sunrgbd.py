# SUNRGBD (37 classes) in the layout released with DFormer:
#   data/SUNRGBD/{RGB/*.jpg, Depth/*.png, labels/*.png (or Label/), train.txt, test.txt}
# This is the DFormer (v1) preprocessing, the one of NYUDepthv2 (the official RGBXDataset): BGR
# images, training crop 480x480, evaluation at each image's own size (sizes vary, so batch_size=1).
# DFormerv2 on SUNRGBD was trained and evaluated on RGB-ordered images, and evaluated on images
# padded to 531x730: configs/dformerv2/_sunrgbd_rgb_padded.py changes these pipelines.
_base_ = './nyu_depth_v2.py'
dataset_type = 'SUNRGBDDataset'
data_root = 'data/SUNRGBD'
crop_size = (480, 480)
# The NYUDepthv2 training pipeline with this crop size; the test pipeline is NYUDepthv2's.
_crop_args = dict(RandomCrop=dict(crop_size=crop_size), Pad=dict(size=crop_size))
train_pipeline = [dict(step, **_crop_args.get(step['type'], {})) for step in {{_base_.train_pipeline}}]
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
