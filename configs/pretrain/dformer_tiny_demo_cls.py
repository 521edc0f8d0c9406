# Pretraining demo: DFormer-T classifies the synthetic RGB-D views (6 classes) with the RGBD-Pretrain recipe
# scaled to a few CPU minutes; its backbone then initialises the segmentation demo
# (tools/run_pretrain_demo.sh, docs/pretraining.md).
#   python tools/dataset_converters/generate_demo_cls.py --out data/demo_cls --seed 0
#   python tools/train.py configs/pretrain/dformer_tiny_demo_cls.py
# Without depth (ablation): --cfg-options default_hooks.depth_input.mode=zero
_base_ = [
    '../_base_/models/rgbd_classifier.py',
    '../_base_/datasets/demo_cls.py',
    '../_base_/schedules/pretrain_adamw_cosine.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(type='DFormer', arch='tiny', drop_path_rate=0.1),
    num_classes=6,
    # Mixup / CutMix on half of the batches: on the full recipe's every batch a short run learns too slowly.
    batch_augments=dict(prob=0.5))
param_scheduler = dict(warmup_epochs=1)
train_loop = dict(max_epochs=3, val_interval=3)
default_hooks = dict(
    depth_input=dict(type='DepthInputHook', mode='keep'),
    logger=dict(interval=10),
    checkpoint=dict(interval=3, max_keep_ckpts=1))
seed = 0
