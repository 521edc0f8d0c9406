# DFormer-B RGB-D pretraining on ImageNet-1K with RGBD-Pretrain's recipe (train.sh; drop path 0.15 for B).
#   8 processes x 128:  mpirun -np 8 python tools/train.py configs/pretrain/dformer_base_imagenet_rgbd.py --amp
# The checkpoint feeds model.pretrained of the segmentation configs (docs/pretraining.md).
_base_ = [
    '../_base_/models/rgbd_classifier.py',
    '../_base_/datasets/imagenet_rgbd.py',
    '../_base_/schedules/pretrain_adamw_cosine.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(type='DFormer', arch='base', drop_path_rate=0.15))
