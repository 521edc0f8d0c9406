# The SUNRGBD recipe with the data as the official code feeds it to DFormerv2 (not a runnable config on its
# own: the dformerv2_*_sunrgbd.py configs inherit it in place of configs/_base_/recipes/sunrgbd.py).
# Two differences from DFormer v1 (official RGBXDataset / ValPre with --pad_SUNRGBD):
# * images are read in RGB order (v1 uses OpenCV's BGR);
# * at test time the raw image, depth and label are padded at the bottom/right to
#   531x730 (image and depth with 0, before normalisation), so that every image of
#   the test set has one size; predictions are cropped back to each image's size.
_base_ = '../_base_/recipes/sunrgbd.py'
# The base pipelines, whose first step is LoadImageFromFile and whose test pipeline's second is LoadDepthFromFile.
_load_rgb = dict({{_base_.train_pipeline.0}}, color_order='rgb')
_pad_test_image = dict(type='Pad', size=(531, 730), pad_val=0, seg_pad_val=255)
train_pipeline = [_load_rgb] + {{_base_.train_pipeline}}[1:]
test_pipeline = [_load_rgb, {{_base_.test_pipeline.1}}, _pad_test_image] + {{_base_.test_pipeline}}[2:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
