# DFormer-Large on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormer_Large.py.
_base_ = ['../_base_/models/dformer_large.py', '../_base_/recipes/sunrgbd.py']
model = dict(
    backbone=dict(drop_path_rate=0.2),
    decode_head=dict(num_classes=37),
    # Official evaluation (utils/eval.py --sliding): crop-size windows, stride 2/3 of the crop.
    test_cfg=dict(mode='slide', crop_size=(480, 480), stride=(320, 320)))
