# DFormerv2-L on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormerv2_L.py.
_base_ = ['../_base_/models/dformerv2_l.py', './_sunrgbd_rgb_padded.py']
model = dict(
    backbone=dict(drop_path_rate=0.27),
    decode_head=dict(num_classes=37),
    # Official evaluation (utils/eval.py --sliding): crop-size windows, stride 2/3 of the crop.
    test_cfg=dict(mode='slide', crop_size=(480, 480), stride=(320, 320)))
