"""Mixup and CutMix over a whole batch, on RGB and depth together, with soft targets (timm's ``Mixup``
in ``mode='batch'``, as the RGBD-Pretrain recipe uses it with ``--mixup 0.8 --cutmix 1.0``).

Each batch is mixed with itself in reverse order. With probability ``prob`` a mix happens: CutMix with
probability ``switch_prob`` (when both alphas are > 0), else Mixup. Mixup blends whole images with a
weight ``lam ~ Beta(mixup_alpha, mixup_alpha)``; CutMix pastes one box of the reversed batch, its area
fraction drawn from ``Beta(cutmix_alpha, cutmix_alpha)`` and ``lam`` corrected to the area kept after
clipping at the border. The same box or weight applies to RGB and depth, so the two stay aligned.
Targets are ``lam * y + (1 - lam) * y_reversed`` of label-smoothed one-hot vectors.

Random draws use NumPy's global generator, which ``jt.set_global_seed`` (the Runner's ``seed``) seeds
with a per-process offset: a seeded run mixes the same way every time, and MPI processes mix differently.
"""
import jittor as jt
import numpy as np


def smoothed_one_hot(labels, num_classes, smoothing):
    """(B,) int labels -> (B, num_classes) float32 targets: ``1 - smoothing + smoothing / C`` on the label,
    ``smoothing / C`` elsewhere (timm's convention)."""
    off = smoothing / num_classes
    one_hot = (labels.reshape(-1, 1) == jt.arange(num_classes).reshape(1, -1)).float32()
    return one_hot * (1.0 - smoothing) + off


class MixupCutmix:
    """Batch Mixup / CutMix (see the module docstring); ``__call__(img, depth, labels)`` ->
    ``(img, depth, soft targets)``."""

    def __init__(self, num_classes, mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5,
                 label_smoothing=0.1, correct_lam=True):
        if mixup_alpha < 0 or cutmix_alpha < 0 or not (mixup_alpha or cutmix_alpha):
            raise ValueError(f'mixup_alpha and cutmix_alpha must be >= 0 and one of them > 0, got '
                             f'{mixup_alpha}, {cutmix_alpha}')
        for value, name in ((prob, 'prob'), (switch_prob, 'switch_prob'), (label_smoothing, 'label_smoothing')):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {value}')
        self.num_classes = int(num_classes)
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.prob = float(prob)
        self.switch_prob = float(switch_prob)
        self.label_smoothing = float(label_smoothing)
        self.correct_lam = bool(correct_lam)

    def draw(self, height, width):
        """``(lam, box)``: the weight of the original batch and the CutMix box ``(y1, y2, x1, x2)`` or None."""
        if np.random.rand() >= self.prob:
            return 1.0, None
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or np.random.rand() < self.switch_prob)
        if not use_cutmix:
            return float(np.random.beta(self.mixup_alpha, self.mixup_alpha)), None
        lam = float(np.random.beta(self.cutmix_alpha, self.cutmix_alpha))
        ratio = np.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * ratio), int(width * ratio)
        cy, cx = np.random.randint(0, height), np.random.randint(0, width)
        y1, y2 = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
        x1, x2 = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
        if self.correct_lam:
            lam = 1.0 - (y2 - y1) * (x2 - x1) / float(height * width)
        return lam, (int(y1), int(y2), int(x1), int(x2))

    def __call__(self, img, depth, labels):
        lam, box = self.draw(img.shape[2], img.shape[3])
        targets = smoothed_one_hot(labels, self.num_classes, self.label_smoothing)
        if lam == 1.0:
            return img, depth, targets
        if box is None:
            img = img * lam + img.flip(0) * (1.0 - lam)
            depth = depth * lam + depth.flip(0) * (1.0 - lam)
        else:
            y1, y2, x1, x2 = box
            mask = np.zeros((1, 1) + tuple(img.shape[2:]), dtype=np.float32)
            mask[:, :, y1:y2, x1:x2] = 1.0
            mask = jt.array(mask)
            img = img * (1.0 - mask) + img.flip(0) * mask
            depth = depth * (1.0 - mask) + depth.flip(0) * mask
        return img, depth, targets * lam + targets.flip(0) * (1.0 - lam)
