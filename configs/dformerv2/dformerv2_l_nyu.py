# DFormerv2-L on NYUDepthv2 (40 classes): the recipe of the official
# local_configs/NYUDepthv2/DFormerv2_L.py.
_base_ = [
    '../_base_/models/dformerv2_l.py',
    '../_base_/datasets/nyu_depth_v2.py',
    '../_base_/schedules/adamw_warmpoly.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=40),
    # Official evaluation (utils/eval.py --sliding): crop-size windows, stride 2/3 of the crop.
    test_cfg=dict(mode='slide', crop_size=(480, 640), stride=(320, 426)))
# The official batch size (12) is the total over all GPUs; here batch_size is per process,
# so a single process reproduces it (divide it by the number of processes otherwise).
train_dataloader = dict(batch_size=12)
optim_wrapper = dict(optimizer=dict(lr=6e-05, weight_decay=0.01))
param_scheduler = dict(warmup_epochs=10, power=0.9)
train_loop = dict(max_epochs=500)
# Official multi-scale + flip evaluation (utils/eval.py --mst): scales 0.5 .. 1.5, each
# scaled size rounded up to a multiple of 32.
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
