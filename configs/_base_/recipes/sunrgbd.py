# The official SUNRGBD recipe of DFormer (local_configs/SUNRGBD/*.py): data, schedule (AdamW, lr 8e-5,
# 300 epochs), runtime, sliding-window and multi-scale evaluation. A model config adds its model and the
# class count; DFormerv2 changes the preprocessing (configs/dformerv2/_sunrgbd_rgb_padded.py).
_base_ = ['../datasets/sunrgbd.py', '../schedules/adamw_warmpoly.py', '../default_runtime.py',
          './multiscale_flip_test.py']
# Official evaluation (utils/eval.py --sliding): crop-size windows, stride 2/3 of the crop.
model = dict(test_cfg=dict(mode='slide', crop_size=(480, 480), stride=(320, 320)))
# The official batch size (16) is the total over all GPUs; here batch_size is per process,
# so a single process reproduces it (divide it by the number of processes otherwise).
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=8e-05))
train_loop = dict(max_epochs=300)
