# DFormer-Tiny on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormer_Tiny.py.
_base_ = ['../_base_/models/dformer_tiny.py', '../_base_/recipes/sunrgbd.py']
model = dict(
    decode_head=dict(num_classes=37),
    # Official evaluation (utils/eval.py --sliding): crop-size windows, stride 2/3 of the crop.
    test_cfg=dict(mode='slide', crop_size=(480, 480), stride=(320, 320)))
