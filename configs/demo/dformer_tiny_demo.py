# The main job: DFormer-Tiny trained from scratch on the built-in synthetic RGB-D set
# (6 classes, 96x128 crops of 120x160 renders), a few minutes on 2 CPU cores.
#   python tools/dataset_converters/generate_demo_rgbd.py --out data/demo_rgbd --seed 0
#   python tools/train.py configs/demo/dformer_tiny_demo.py
# RGB-only ablation of the same recipe (depth replaced by zeros everywhere):
#   python tools/train.py configs/demo/dformer_tiny_demo.py --work-dir work_dirs/dformer_tiny_demo_rgb \
#       --cfg-options default_hooks.depth_input.mode=zero
_base_ = [
    '../_base_/models/dformer_tiny.py',
    '../_base_/datasets/demo_rgbd.py',
    '../_base_/schedules/adamw_warmpoly.py',
    '../_base_/default_runtime.py',
]
model = dict(
    pretrained=None,  # no ImageNet weights offline: train from scratch
    # A narrower decode head than the official 512 channels keeps a CPU step short.
    # nmf_seed: the same NMF bases at every evaluation, so validation and tools/test.py agree exactly.
    decode_head=dict(num_classes=6, channels=128, ham_channels=128, nmf_seed=0),
    test_cfg=dict(mode='whole'))
train_dataloader = dict(batch_size=8, num_workers=2)
val_dataloader = dict(batch_size=4, num_workers=2)
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.01))
param_scheduler = dict(warmup_epochs=1, power=0.9)
train_loop = dict(max_epochs=8, val_begin=1, val_interval=4)
default_hooks = dict(
    depth_input=dict(type='DepthInputHook', mode='keep'),
    logger=dict(interval=10),
    checkpoint=dict(interval=4, max_keep_ckpts=2, save_best='mIoU'))
tta_cfg = dict(scales=[0.75, 1.0, 1.25], flip=True)
seed = 0
