# DFormer-Large on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormer_Large.py.
_base_ = ['../_base_/models/dformer_large.py', '../_base_/recipes/sunrgbd.py']
model = dict(
    backbone=dict(drop_path_rate=0.2),
    decode_head=dict(num_classes=37))
