# RGB-D image classifier of RGBD-Pretrain: backbone (both streams) -> global average pooling -> Linear `pred`,
# label smoothing 0.1 and Mixup 0.8 / CutMix 1.0 (switch probability 0.5) on RGB and depth together.
model = dict(
    type='RGBDImageClassifier',
    num_classes=1000,
    label_smoothing=0.1,
    batch_augments=dict(type='MixupCutmix', mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5),
    pretrained=None)
