# DFormerv2-L + LightHamHead, as the official models/builder.py builds it for
# local_configs/NYUDepthv2/DFormerv2_L.py (the dataset configs set num_classes and the recipe).
_base_ = './rgbd_lightham.py'
model = dict(
    # ImageNet-pretrained backbone released with DFormerv2 (weights under 'model').
    pretrained='checkpoints/pretrained/DFormerv2_Large_pretrained.pth',
    backbone=dict(type='DFormerv2', arch='L', drop_path_rate=0.3),
    decode_head=dict(in_channels=[224, 448, 640], channels=1024))  # decoder_embed_dim; the Hamburger keeps 512 channels
