# DFormerv2-B on SUNRGBD (37 classes): the recipe of the official
# local_configs/SUNRGBD/DFormerv2_B.py.
_base_ = ['../_base_/models/dformerv2_b.py', './_sunrgbd_rgb_padded.py']
model = dict(
    backbone=dict(drop_path_rate=0.1),
    decode_head=dict(channels=1024, num_classes=37),
    # Official evaluation (utils/eval.py --sliding): crop-size windows, stride 2/3 of the crop.
    test_cfg=dict(mode='slide', crop_size=(480, 480), stride=(320, 320)))
