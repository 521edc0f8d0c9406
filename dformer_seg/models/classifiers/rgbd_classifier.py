"""RGB-D image classifier for ImageNet-style pretraining of the DFormer / DFormerv2 backbones."""
import logging

import jittor as jt
import numpy as np
from jittor import nn

from ...registry import BACKBONES, SEGMENTORS
from ...utils.checkpoint import PRETRAINED_STATE_DICT_KEYS, load_state_dict, read_checkpoint
from ..backbones import DFormer
from ..base_model import BaseModel
from .batch_mix import MixupCutmix, smoothed_one_hot

logger = logging.getLogger('dformer_seg')

MODES = ('loss', 'predict', 'tensor')
HEAD_PREFIX = 'pred.'


def soft_target_cross_entropy(logits, targets):
    """Mean over the batch of ``-sum(targets * log_softmax(logits))`` (timm's SoftTargetCrossEntropy)."""
    return (-targets * nn.log_softmax(logits, dim=1)).sum(dim=1).mean()


def _backbone_cfg(cfg):
    """The backbone config with the last stage only; DFormer v1 keeps the depth stream's final output."""
    cfg = dict(cfg, out_indices=(3,))
    backbone_type = BACKBONES.get(cfg['type']) if isinstance(cfg.get('type'), str) else cfg.get('type')
    if isinstance(backbone_type, type) and issubclass(backbone_type, DFormer):
        cfg.setdefault('keep_final_depth', True)
    return cfg


@SEGMENTORS.register_module()
class RGBDImageClassifier(BaseModel):
    """Backbone + global average pooling + one Linear layer ``pred`` over RGB and depth.

    The layout of RGBD-Pretrain (github VCIP-RGBD/RGBD-Pretrain, ``models/DFormer.py``): for DFormer the
    last stage's RGB features (``dims[-1]``) and depth features (``dims[-1] // 2``) are concatenated,
    average-pooled and classified by ``pred`` (``dims[-1] // 2 * 3`` inputs), so the state-dict names are
    RGBD-Pretrain's with a ``backbone.`` prefix before the backbone's. DFormerv2 has no depth stream (depth
    steers its attention), so ``pred`` reads its last stage's ``embed_dims[-1]`` normalised features.

    Args:
        backbone: backbone config (any of the DFormer / DFormerv2 variants).
        num_classes: classes of the data set (1000 for ImageNet-1K).
        label_smoothing: of the one-hot targets (timm's default 0.1).
        batch_augments: None or ``dict(type='MixupCutmix', mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0,
            switch_prob=0.5)``: applied to training batches only.
        pretrained: a whole-classifier checkpoint to start from: ours, or RGBD-Pretrain's (keys without
            ``backbone.``); loaded non-strictly, every key that does not match is listed in the log.

    ``execute(batch, mode)`` takes ``dict(img, depth, gt_label)``: mode 'loss' returns
    ``dict(loss_cls, acc_top1)``, 'predict' a list of per-image class probabilities (numpy), 'tensor'
    the logits.
    """

    def __init__(self, backbone, num_classes=1000, label_smoothing=0.1, batch_augments=None, pretrained=None):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f'num_classes must be an int >= 2, got {num_classes!r}')
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f'label_smoothing must be in [0, 1), got {label_smoothing}')
        self.backbone = BACKBONES.build(_backbone_cfg(backbone))
        self.num_classes = num_classes
        self.label_smoothing = float(label_smoothing)
        self.pred = nn.Linear(self.feature_channels(), num_classes)
        jt.init.trunc_normal_(self.pred.weight, std=0.02)
        self.pred.bias.assign(jt.zeros_like(self.pred.bias))
        self.batch_augments = self._build_batch_augments(batch_augments)
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def feature_channels(self):
        if getattr(self.backbone, 'keep_final_depth', False):
            return self.backbone.dims[-1] // 2 * 3
        for name in ('num_features', 'dims', 'embed_dims'):
            value = getattr(self.backbone, name, None)
            if value is not None:
                return int(value if np.isscalar(value) else value[-1])
        raise TypeError(f'{type(self.backbone).__name__} names no feature width (num_features, dims or embed_dims)')

    def _build_batch_augments(self, cfg):
        if cfg is None:
            return None
        cfg = dict(cfg)
        kind = cfg.pop('type', 'MixupCutmix')
        if kind != 'MixupCutmix':
            raise ValueError(f"unknown batch_augments type {kind!r}; use 'MixupCutmix'")
        return MixupCutmix(self.num_classes, label_smoothing=self.label_smoothing, **cfg)

    def load_pretrained(self, path):
        """Load a classifier checkpoint (ours or RGBD-Pretrain's) non-strictly; returns the key report."""
        state_dict = read_checkpoint(path, state_dict_keys=PRETRAINED_STATE_DICT_KEYS)['state_dict']
        state_dict = {(k if k.startswith(('backbone.', HEAD_PREFIX)) else 'backbone.' + k): v
                      for k, v in state_dict.items()}
        missing, unexpected, mismatched = load_state_dict(self, state_dict, strict=False)
        logger.info(f'loaded classifier weights {path}: {len(missing)} missing, {len(unexpected)} unexpected, '
                    f'{len(mismatched)} mis-shaped keys')
        return missing, unexpected, mismatched

    # --------------------------------------------------------------- forward
    def extract_feat(self, img, depth):
        """(B, C) globally pooled last-stage features."""
        if getattr(self.backbone, 'keep_final_depth', False):
            outs, depth_feats = self.backbone.execute_streams(img, depth)
            feats = jt.concat([outs[-1], depth_feats], dim=1)
        else:
            feats = self.backbone(img, depth)[-1]
        return feats.mean(dims=(2, 3))

    def execute(self, batch, mode='loss'):
        img, depth = self.rgbd_inputs(batch)
        if mode == 'loss':
            if batch.get('gt_label') is None:
                raise KeyError("mode='loss' needs 'gt_label' in the batch (pack samples with PackClsInputs)")
            return self.loss(img, depth, batch['gt_label'])
        if mode == 'predict':
            with jt.no_grad():
                probs = nn.softmax(self.pred(self.extract_feat(img, depth)), dim=1).numpy()
            return [p for p in probs]
        if mode == 'tensor':
            return self.pred(self.extract_feat(img, depth))
        raise ValueError(f'unknown mode {mode!r}; use one of {MODES}')

    def _check_labels(self, labels):
        values = labels.numpy()
        outside = values[(values < 0) | (values >= self.num_classes)]
        if outside.size:
            raise ValueError(f'class label {int(outside[0])} is outside 0..{self.num_classes - 1}: model.num_classes '
                             f'({self.num_classes}) must be the number of classes of the data set')

    def loss(self, img, depth, labels):
        labels = labels.reshape(-1)
        self._check_labels(labels)
        if self.is_training() and self.batch_augments is not None:
            img, depth, targets = self.batch_augments(img, depth, labels)
        else:
            targets = smoothed_one_hot(labels, self.num_classes, self.label_smoothing)
        logits = self.pred(self.extract_feat(img, depth))
        with jt.no_grad():
            correct = (logits.argmax(dim=1)[0] == labels).float32().mean()
        return {'loss_cls': soft_target_cross_entropy(logits, targets), 'acc_top1': correct * 100.0}
