# DFormerv2-L on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormerv2_L.py.
_base_ = ['../_base_/models/dformerv2_l.py', './_sunrgbd_rgb_padded.py']
model = dict(
    backbone=dict(drop_path_rate=0.27),
    decode_head=dict(num_classes=37))
