# The official DFormer/DFormerv2 recipe: AdamW, no weight decay on norm layers and biases,
# 10 warm-up epochs then poly(0.9) over all 500 epochs (utils/lr_policy.py WarmUpPolyLR).
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=None)  # e.g. dict(max_norm=1.0)
param_scheduler = dict(type='WarmupPolyLR', warmup_epochs=10, power=0.9, eta_min=0.0)
train_loop = dict(type='EpochBasedTrainLoop', max_epochs=500, val_begin=250, val_interval=25)
val_loop = dict(type='ValLoop')
test_loop = dict(type='TestLoop')
default_hooks = dict(
    param_scheduler=dict(type='ParamSchedulerHook'),
    timer=dict(type='IterTimerHook'),
    invalid_loss=dict(type='CheckInvalidLossHook', interval=1),
    logger=dict(type='TextLoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=25, by_epoch=True, max_keep_ckpts=3, save_best='mIoU'))
