"""RGB-D encoder-decoder segmentor: backbone(img, depth) -> decode head (+ auxiliary head)."""
import logging
import math

import jittor as jt
import numpy as np
from jittor import nn

from ...config import ConfigError
from ...registry import BACKBONES, HEADS, SEGMENTORS
from ...utils.checkpoint import PRETRAINED_STATE_DICT_KEYS, load_state_dict, read_checkpoint
from ...utils.shapes import int_pair
from ..base_model import BaseModel
from ..utils import resize

logger = logging.getLogger('dformer_seg')

MODES = ('loss', 'predict', 'tensor')
TEST_MODES = ('whole', 'slide')


def _check_test_cfg(test_cfg):
    cfg = dict(test_cfg or {})
    unknown = set(cfg) - {'mode', 'crop_size', 'stride', 'aug'}
    if unknown:
        raise ValueError(f'unknown keys in test_cfg: {sorted(unknown)}; use mode, crop_size, stride, aug')
    cfg.setdefault('mode', 'whole')
    if cfg['mode'] not in TEST_MODES:
        raise ValueError(f"test_cfg.mode must be one of {TEST_MODES}, got {cfg['mode']!r}")
    if cfg['mode'] == 'slide':
        for key in ('crop_size', 'stride'):
            if cfg.get(key) is None:
                raise ValueError(f"test_cfg mode='slide' needs {key}=(h, w)")
            cfg[key] = int_pair(cfg[key], f'test_cfg.{key}', minimum=1)
    aug = cfg.get('aug')
    if aug is not None:
        aug = dict(aug)
        scales = [float(s) for s in aug.get('scales', [1.0])]
        if not scales or min(scales) <= 0:
            raise ValueError(f'test_cfg.aug.scales must be a non-empty list of positive factors, got {scales}')
        unknown = set(aug) - {'scales', 'flip', 'size_divisor'}
        if unknown:
            raise ValueError(f'unknown keys in test_cfg.aug: {sorted(unknown)}; use scales, flip, size_divisor')
        cfg['aug'] = dict(scales=scales, flip=bool(aug.get('flip', False)), size_divisor=aug.get('size_divisor'))
    return cfg


@SEGMENTORS.register_module()
class RGBDEncoderDecoder(BaseModel):
    """Backbone + decode head (+ optional auxiliary head) over RGB and depth.

    Args:
        backbone, decode_head, auxiliary_head: registry configs (auxiliary may be None).
        pretrained: path of an ImageNet-pretrained backbone checkpoint (official ``.pth``
            or native), loaded non-strictly into the backbone.
        train_cfg: unused, kept for config compatibility.
        test_cfg: ``dict(mode='whole' | 'slide', crop_size=(h, w), stride=(h, w),
            aug=None | dict(scales=[...], flip=bool, size_divisor=None | int))``.
        init_cfg: None or ``dict(type='Pretrained', checkpoint=path)``: weights for the
            whole segmentor, loaded non-strictly (e.g. to fine-tune from another dataset).
    """

    def __init__(self, backbone, decode_head, auxiliary_head=None, pretrained=None, train_cfg=None,
                 test_cfg=None, init_cfg=None):
        super().__init__()
        self.backbone = BACKBONES.build(backbone)
        self.decode_head = HEADS.build(decode_head)
        self.auxiliary_head = HEADS.build(auxiliary_head) if auxiliary_head is not None else None
        self.num_classes = self.decode_head.num_classes
        self.align_corners = bool(getattr(self.decode_head, 'align_corners', False))
        self.train_cfg = dict(train_cfg or {})
        self.set_test_cfg(test_cfg)
        if pretrained is not None:
            self.load_pretrained_backbone(pretrained)
        if init_cfg is not None:
            self._apply_init_cfg(init_cfg)

    def set_test_cfg(self, test_cfg):
        """Validate and install an inference setting (e.g. add ``aug`` for test-time augmentation)."""
        self.test_cfg = _check_test_cfg(test_cfg)

    # ------------------------------------------------------------------ init
    def load_pretrained_backbone(self, path):
        """Load backbone weights (keys with or without ``backbone.``) non-strictly, logging what matched."""
        state_dict = read_checkpoint(path, state_dict_keys=PRETRAINED_STATE_DICT_KEYS)['state_dict']
        state_dict = {(k[len('backbone.'):] if k.startswith('backbone.') else k): v for k, v in state_dict.items()}
        missing, unexpected, mismatched = load_state_dict(self.backbone, state_dict, strict=False)
        total = len(self.backbone.state_dict())
        loaded = total - len(missing) - len(mismatched)
        logger.info(f'loaded pretrained backbone {path}: {loaded}/{total} tensors; '
                    f'{len(missing)} missing {missing[:5]}, {len(unexpected)} unexpected {unexpected[:5]}, '
                    f'{len(mismatched)} shape mismatches {[k for k, _, _ in mismatched][:5]}')
        return missing, unexpected, mismatched

    def _apply_init_cfg(self, init_cfg):
        cfg = dict(init_cfg)
        if cfg.get('type') != 'Pretrained' or not cfg.get('checkpoint'):
            raise ValueError(f"init_cfg must be dict(type='Pretrained', checkpoint=path), got {init_cfg!r}")
        state_dict = read_checkpoint(cfg['checkpoint'])['state_dict']
        missing, unexpected, mismatched = load_state_dict(self, state_dict, strict=False)
        logger.info(f"init_cfg: loaded {cfg['checkpoint']} ({len(missing)} missing, {len(unexpected)} "
                    f'unexpected, {len(mismatched)} mismatched keys)')

    # --------------------------------------------------------------- forward
    def extract_feat(self, img, depth):
        return self.backbone(img, depth)

    def encode_decode(self, img, depth):
        """Logits of the decode head, resized (bilinear) to the input size."""
        logits = self.decode_head(self.extract_feat(img, depth))
        return resize(logits, size=img.shape[2:], mode='bilinear', align_corners=self.align_corners)

    def execute(self, batch, mode='loss'):
        img, depth = self.rgbd_inputs(batch)
        if mode == 'loss':
            if batch.get('gt_seg') is None:
                raise KeyError("mode='loss' needs 'gt_seg' in the batch")
            return self.loss(img, depth, batch['gt_seg'])
        if mode == 'predict':
            return self.predict(img, depth, batch.get('img_metas'))
        if mode == 'tensor':
            return self.encode_decode(img, depth)
        raise ValueError(f'unknown mode {mode!r}; use one of {MODES}')

    def loss(self, img, depth, gt_seg):
        feats = self.extract_feat(img, depth)
        losses = {}
        for prefix, head in (('decode', self.decode_head), ('aux', self.auxiliary_head)):
            if head is None:
                continue
            logits = resize(head(feats), size=gt_seg.shape[-2:], mode='bilinear', align_corners=self.align_corners)
            for name, value in head.loss(logits, gt_seg).items():
                losses[f'{prefix}.{name}'] = value
        return losses

    # ------------------------------------------------------------- inference
    def slide_inference(self, img, depth):
        """Average the logits of overlapping crop_size windows (border windows are shifted inwards)."""
        h_crop, w_crop = self.test_cfg['crop_size']
        h_stride, w_stride = self.test_cfg['stride']
        batch_size, _, h_img, w_img = img.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        logits = jt.zeros((batch_size, self.num_classes, h_img, w_img), dtype=img.dtype)
        count = np.zeros((1, 1, h_img, w_img), dtype=np.float32)
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop_logits = self.encode_decode(img[:, :, y1:y2, x1:x2], depth[:, :, y1:y2, x1:x2])
                logits = logits + nn.pad(crop_logits, (x1, w_img - x2, y1, h_img - y2))
                count[:, :, y1:y2, x1:x2] += 1
        return logits / jt.array(count)

    def _logits(self, img, depth):
        if self.test_cfg['mode'] == 'slide':
            return self.slide_inference(img, depth)
        self._check_whole_image_memory(img)
        return self.encode_decode(img, depth)

    def _check_whole_image_memory(self, img):
        """Refuse a whole-image forward on the CPU that would need more memory than the machine has free (the
        operating system would kill the process without a word), when the backbone declares its
        ``inference_bytes_per_pixel``."""
        per_pixel = getattr(self.backbone, 'inference_bytes_per_pixel', None)
        available = available_memory_bytes()
        if per_pixel is None or available is None or jt.flags.use_cuda:
            return
        n, _, h, w = img.shape
        needed = per_pixel * n * h * w
        if needed > 0.9 * available:
            raise ConfigError(
                f'whole-image inference of {n} x {h}x{w} needs about {needed / 2 ** 30:.1f} GiB, but only '
                f'{available / 2 ** 30:.1f} GiB of memory is free: use sliding-window inference '
                f'(--cfg-options model.test_cfg.mode=slide model.test_cfg.crop_size=[480,640] '
                f'model.test_cfg.stride=[320,427]) or smaller images')

    def aug_inference(self, img, depth):
        """Multi-scale (+ flip) test-time augmentation: mean softmax scores at the input size."""
        aug = self.test_cfg['aug']
        h_img, w_img = img.shape[2:]
        scores, runs = None, 0
        for scale in aug['scales']:
            size = [max(1, int(round(h_img * scale))), max(1, int(round(w_img * scale)))]
            if aug['size_divisor']:
                size = [int(math.ceil(s / aug['size_divisor'])) * aug['size_divisor'] for s in size]
            scaled_img = resize(img, size=size, mode='bilinear', align_corners=False)
            scaled_depth = resize(depth, size=size, mode='bilinear', align_corners=False)
            for flip in ([False, True] if aug['flip'] else [False]):
                if flip:
                    logits = self._logits(scaled_img.flip(3), scaled_depth.flip(3)).flip(3)
                else:
                    logits = self._logits(scaled_img, scaled_depth)
                logits = resize(logits, size=(h_img, w_img), mode='bilinear', align_corners=False)
                probs = nn.softmax(logits, dim=1)
                scores = probs if scores is None else scores + probs
                runs += 1
        return scores / runs

    def inference(self, img, depth, img_metas=None):
        """Per-image class-probability maps (C, H, W) at each image's ``ori_shape``.

        Padding is removed using ``img_shape``, flips made by the test pipeline are
        undone, and scores are resized bilinearly to ``ori_shape``.
        """
        img_metas = img_metas or _default_metas(img)
        if len(img_metas) != img.shape[0]:
            raise ValueError(f'{len(img_metas)} img_metas for a batch of {img.shape[0]} images')
        with jt.no_grad():
            if self.test_cfg.get('aug'):
                scores, are_probs = self.aug_inference(img, depth), True
            else:
                scores, are_probs = self._logits(img, depth), False
            results = []
            for i, meta in enumerate(img_metas):
                h, w = meta.get('img_shape', img.shape[2:])
                score = scores[i:i + 1, :, :int(h), :int(w)]
                if meta.get('flip'):
                    direction = meta.get('flip_direction') or 'horizontal'
                    if direction not in ('horizontal', 'vertical'):
                        raise ValueError(f'unknown flip_direction {direction!r} in img_metas')
                    score = score.flip(3 if direction == 'horizontal' else 2)
                ori_shape = meta.get('ori_shape', (h, w))
                score = resize(score, size=ori_shape, mode='bilinear', align_corners=self.align_corners)
                if not are_probs:
                    score = nn.softmax(score, dim=1)
                results.append(score[0])
        return results

    def predict(self, img, depth, img_metas=None):
        """Label maps (numpy int64, ``ori_shape``) for each image of the batch."""
        return [np.asarray(probs.argmax(dim=0)[0].numpy(), dtype=np.int64)
                for probs in self.inference(img, depth, img_metas)]


def available_memory_bytes():
    """``MemAvailable`` of /proc/meminfo (None where there is no such file)."""
    try:
        with open('/proc/meminfo') as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _default_metas(img):
    shape = tuple(int(s) for s in img.shape[2:])
    return [dict(ori_shape=shape, img_shape=shape, pad_shape=shape, flip=False) for _ in range(img.shape[0])]
