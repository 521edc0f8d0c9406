# Sliding-window evaluation of 480x640 frames (NYUDepthv2, ScanNet-v2) as the official utils/eval.py
# --sliding runs it: crop-size windows, stride 2/3 of the crop.
model = dict(test_cfg=dict(mode='slide', crop_size=(480, 640), stride=(320, 426)))
