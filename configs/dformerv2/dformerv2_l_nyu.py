# DFormerv2-L on NYUDepthv2 (40 classes): the recipe of the official
# local_configs/NYUDepthv2/DFormerv2_L.py.
_base_ = ['../_base_/models/dformerv2_l.py', '../_base_/recipes/nyu_depth_v2.py']
model = dict(decode_head=dict(num_classes=40))
# The official batch size (12) is the total over all GPUs; here batch_size is per process.
train_dataloader = dict(batch_size=12)
