# DFormerv2-L RGB-D pretraining on ImageNet-1K. No official DFormerv2 pretraining recipe was published: this
# uses RGBD-Pretrain's DFormer recipe unchanged (same data, augmentation, optimizer and schedule) except the
# drop-path rate, 0.5, our choice: stochastic depth grows with model depth in the recipes of the
# Swin/RMT-style hierarchical transformers DFormerv2 belongs to, and DFormerv2-L is deeper than DFormer-L.
#   mpirun -np 8 python tools/train.py configs/pretrain/dformerv2_l_imagenet_rgbd.py --amp
_base_ = [
    '../_base_/models/rgbd_classifier.py',
    '../_base_/datasets/imagenet_rgbd.py',
    '../_base_/schedules/pretrain_adamw_cosine.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(type='DFormerv2', arch='L', drop_path_rate=0.5))
