# The segmentor shared by every DFormer / DFormerv2 model config: backbone + LightHamHead, as the
# official models/builder.py builds it. Each model config adds its backbone, pretrained file and the
# head's input channels; the dataset configs set num_classes and the recipe.
# Norms: SyncBN (plain BN in a single process); the decode head's BatchNorms use
# eps 1e-3 and momentum 0.1 (the official init_weight sets them), the backbone's eps 1e-5.
_backbone_norm = dict(type='SyncBN', requires_grad=True)
_head_norm = dict(type='SyncBN', eps=1e-3, momentum=0.1, requires_grad=True)
model = dict(
    type='RGBDEncoderDecoder',
    pretrained=None,
    backbone=dict(norm_cfg=_backbone_norm),
    decode_head=dict(
        type='LightHamHead',
        in_index=[1, 2, 3],
        channels=512,
        ham_channels=512,
        # Seeded NMF bases in evaluation: two evaluations of a checkpoint give the same mIoU
        # (the official code draws new random bases on every forward; nmf_seed=None does too).
        nmf_seed=0,
        ham_kwargs=dict(MD_S=1, MD_R=64, TRAIN_STEPS=6, EVAL_STEPS=7),
        dropout_ratio=0.1,
        num_classes=40,
        norm_cfg=_head_norm,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None,  # the official configs set aux_rate = 0
    train_cfg=dict())  # test_cfg: the recipe's evaluation (whole image when it sets none)
