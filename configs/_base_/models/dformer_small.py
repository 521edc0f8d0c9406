# DFormer-Small + LightHamHead, as the official models/builder.py builds it for
# local_configs/NYUDepthv2/DFormer_Small.py (the dataset configs set num_classes and the recipe).
_base_ = './rgbd_lightham.py'
model = dict(
    # ImageNet-pretrained RGB-D backbone released with DFormer (weights under 'state_dict(_ema)').
    pretrained='checkpoints/pretrained/DFormer_Small.pth.tar',
    backbone=dict(type='DFormer', arch='small', drop_path_rate=0.1),
    decode_head=dict(in_channels=[128, 256, 512]))
