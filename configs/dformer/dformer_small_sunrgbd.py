# DFormer-Small on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormer_Small.py.
_base_ = ['../_base_/models/dformer_small.py', '../_base_/recipes/sunrgbd.py']
model = dict(decode_head=dict(num_classes=37))
