# RGBD-Pretrain's train.sh: AdamW lr 1e-3 (global batch 1024), weight decay 0.05 (none on norms and biases,
# as timm), 5 warm-up epochs from 1e-6, cosine to 0 over 300 epochs, gradient clipping at norm 1.0,
# no gradient accumulation. AMP: pass --amp to tools/train.py on a GPU.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=1.0),
    accumulative_counts=1)
param_scheduler = dict(type='CosineAnnealingLR', warmup_epochs=5, warmup_ratio=1e-3, eta_min=0.0)
train_loop = dict(type='EpochBasedTrainLoop', max_epochs=300, val_begin=1, val_interval=5)
val_loop = dict(type='ValLoop')
test_loop = dict(type='TestLoop')
default_hooks = dict(
    param_scheduler=dict(type='ParamSchedulerHook'),
    timer=dict(type='IterTimerHook'),
    invalid_loss=dict(type='CheckInvalidLossHook', interval=1),
    logger=dict(type='TextLoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=5, by_epoch=True, max_keep_ckpts=3, save_best='top1'))
