# DFormer-Tiny on ScanNet-v2 (the 20 benchmark classes, 480x640 frames). The recipe follows the
# NYUDepthv2 one with fewer epochs for the larger set (about 19k training frames of scannet_frames_25k).
_base_ = ['../_base_/models/dformer_tiny.py', '../_base_/datasets/scannet_v2.py', '../_base_/recipes/rgbx.py',
          '../_base_/recipes/slide_test_480x640.py']
model = dict(decode_head=dict(num_classes=20))
param_scheduler = dict(warmup_epochs=2)
train_loop = dict(max_epochs=40, val_begin=20, val_interval=5)
default_hooks = dict(checkpoint=dict(interval=5))
