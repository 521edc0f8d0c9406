# DFormerv2-S on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormerv2_S.py.
_base_ = ['../_base_/models/dformerv2_s.py', './_sunrgbd_rgb_padded.py']
model = dict(
    backbone=dict(drop_path_rate=0.1),
    decode_head=dict(channels=1024, num_classes=37))
