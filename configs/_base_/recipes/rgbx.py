# The recipe of the RGB-X configs that have no official DFormer recipe (Cityscapes-RGBD, ScanNet-v2,
# Stanford-2D-3D-S): the official schedule (AdamW, lr 6e-5, weight decay 0.01, poly 0.9 after the warm-up),
# runtime and multi-scale evaluation. A config adds its model, data, evaluation window, and the length of its
# schedule (warmup_epochs, max_epochs, validation and checkpoint intervals).
_base_ = ['../schedules/adamw_warmpoly.py', '../default_runtime.py', './multiscale_flip_test.py']
