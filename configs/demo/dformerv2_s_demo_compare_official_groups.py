# dformerv2_s_demo_compare.py with the official optimizer groups: the official group_weight
# (utils/init_func.py) leaves out of the optimizer the geometry-prior weights of every block and the
# SyncBatchNorm layers of the stem and the downsampling layers (43 tensors of DFormerv2-S), which keep
# their initial values. A learning rate of 0 does the same here.
#   python tools/train.py configs/demo/dformerv2_s_demo_compare_official_groups.py --seed 0
_base_ = './dformerv2_s_demo_compare.py'
_untrained = dict(lr_mult=0.0, decay_mult=0.0)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    key: _untrained for key in ('Geo.weight', 'downsample.norm.', 'patch_embed.proj.1.', 'patch_embed.proj.4.',
                                'patch_embed.proj.7.', 'patch_embed.proj.10.')}))
