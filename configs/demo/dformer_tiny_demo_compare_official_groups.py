# dformer_tiny_demo_compare.py with the official optimizer groups: the official group_weight
# (utils/init_func.py) puts only the weights and biases of Linear, Conv and norm layers in the optimizer,
# so DFormer v1's layer scales and the weights and biases of its own LayerNorm class (152 tensors of
# DFormer-Tiny) keep their initial values. A learning rate of 0 does the same here.
#   python tools/train.py configs/demo/dformer_tiny_demo_compare_official_groups.py --seed 0
_base_ = './dformer_tiny_demo_compare.py'
_untrained = dict(lr_mult=0.0, decay_mult=0.0)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    key: _untrained for key in ('layer_scale_', 'attn.norm.', 'attn.norm_e.', 'mlp.norm.', 'mlp_e2.norm.')}))
