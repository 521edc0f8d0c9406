# DFormer-Large + LightHamHead, as the official models/builder.py builds it for
# local_configs/NYUDepthv2/DFormer_Large.py (the dataset configs set num_classes and the recipe).
_base_ = './rgbd_lightham.py'
model = dict(
    # ImageNet-pretrained RGB-D backbone released with DFormer (weights under 'state_dict(_ema)').
    pretrained='checkpoints/pretrained/DFormer_Large.pth.tar',
    backbone=dict(type='DFormer', arch='large', drop_path_rate=0.15),
    decode_head=dict(in_channels=[192, 288, 576]))
