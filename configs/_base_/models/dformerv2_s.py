# DFormerv2-S + LightHamHead, as the official models/builder.py builds it for
# local_configs/NYUDepthv2/DFormerv2_S.py (the dataset configs set num_classes and the recipe).
_base_ = './rgbd_lightham.py'
model = dict(
    # ImageNet-pretrained backbone released with DFormerv2 (weights under 'model').
    pretrained='checkpoints/pretrained/DFormerv2_Small_pretrained.pth',
    backbone=dict(type='DFormerv2', arch='S', drop_path_rate=0.25),
    decode_head=dict(in_channels=[128, 256, 512]))
