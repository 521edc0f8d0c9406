# dformer_tiny_demo_compare.py with DFormerv2-S (drop path 0.25, as the official DFormerv2_S config):
# the DFormerv2-S side of the training comparison with the official PyTorch code (docs/training.md,
# "Training parity with the official code"). A DFormerv2-S step costs several DFormer-T steps on the CPU,
# so this recipe trains 3 epochs (90 iterations) instead of 8.
#   python tools/train.py configs/demo/dformerv2_s_demo_compare.py --seed 0
_base_ = './dformer_tiny_demo_compare.py'
model = dict(
    backbone=dict(type='DFormerv2', arch='S', drop_path_rate=0.25),
    decode_head=dict(in_channels=[128, 256, 512]))
train_loop = dict(max_epochs=3, val_begin=1, val_interval=1)
