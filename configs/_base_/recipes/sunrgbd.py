# The official SUNRGBD recipe of DFormer (local_configs/SUNRGBD/*.py): data, schedule (AdamW, lr 8e-5,
# 300 epochs), runtime and multi-scale evaluation. A model config adds its model, the class count and the
# sliding-window evaluation; DFormerv2 changes the preprocessing (configs/dformerv2/_sunrgbd_rgb_padded.py).
_base_ = ['../datasets/sunrgbd.py', '../schedules/adamw_warmpoly.py', '../default_runtime.py']
# The official batch size (16) is the total over all GPUs; here batch_size is per process,
# so a single process reproduces it (divide it by the number of processes otherwise).
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=8e-05))
train_loop = dict(max_epochs=300)
# Official multi-scale + flip evaluation (utils/eval.py --mst): scales 0.5 .. 1.5, each
# scaled size rounded up to a multiple of 32.
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
