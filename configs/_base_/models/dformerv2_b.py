# DFormerv2-B + LightHamHead, as the official models/builder.py builds it for
# local_configs/NYUDepthv2/DFormerv2_B.py (the dataset configs set num_classes and the recipe).
_base_ = './rgbd_lightham.py'
model = dict(
    # ImageNet-pretrained backbone released with DFormerv2 (weights under 'model').
    pretrained='checkpoints/pretrained/DFormerv2_Base_pretrained.pth',
    backbone=dict(type='DFormerv2', arch='B', drop_path_rate=0.2),
    decode_head=dict(in_channels=[160, 320, 512]))
