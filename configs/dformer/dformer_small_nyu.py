# DFormer-Small on NYUDepthv2 (40 classes): the recipe of the official
# local_configs/NYUDepthv2/DFormer_Small.py.
_base_ = ['../_base_/models/dformer_small.py', '../_base_/recipes/nyu_depth_v2.py']
model = dict(decode_head=dict(num_classes=40))
