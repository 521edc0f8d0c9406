"""LightHamHead: the Hamburger decoder of DFormer (HamNet, https://arxiv.org/abs/2109.04553).

The "ham" is a non-negative matrix factorisation (NMF) of the feature map,
solved by a few multiplicative-update steps from random bases on every
forward pass, as in the official code.
"""
import jittor as jt
import numpy as np
from jittor import nn

from ... import ops
from ...registry import HEADS
from ..utils import ConvModule
from .decode_head import BaseDecodeHead

# ham_kwargs keys, lower-case; the official configs spell them in upper case (MD_S, MD_R, ...).
HAM_KWARGS = ('spatial', 'md_s', 'md_d', 'md_r', 'train_steps', 'eval_steps', 'inv_t', 'eta', 'rand_init')


def _normalize_ham_kwargs(ham_kwargs):
    normalized = {}
    for key, value in dict(ham_kwargs or {}).items():
        name = key.lower()
        if name not in HAM_KWARGS:
            raise KeyError(f'unknown ham_kwargs key {key!r}; expected one of {list(HAM_KWARGS)} '
                           '(upper or lower case)')
        normalized[name] = value
    return normalized


class NMF2D(nn.Module):
    """NMF of a (B, C, H, W) map into S groups of D = C/S channels, with R bases each.

    Forward, following the official ``NMF2D``: draw raw bases uniformly in
    [0, 1) with :meth:`_build_bases`, L2-normalise them over D, initialise the
    coefficients with ``softmax(x^T bases)`` (inverse temperature 1, the
    reference overrides ``inv_t``), run ``train_steps`` (training) or
    ``eval_steps`` (evaluation) multiplicative updates of coefficients and
    bases, do one last coefficient update and return ``bases @ coef^T``.
    Gradients flow through every step, as in the official code.

    Args:
        spatial: factorise over the spatial axis (N = H*W samples of dim D), as
            the official heads do; False swaps the roles of channels and pixels.
        md_s, md_r: number of groups S and of bases R.
        md_d: accepted for config compatibility; D is always derived from the
            input (C // S), as in the reference.
        train_steps, eval_steps: update steps in training / evaluation.
        inv_t, eta: accepted for config compatibility; NMF uses inverse
            temperature 1 and no ``eta``, as in the reference.
        rand_init: new random bases on every forward (True, official). False
            draws them once and reuses them; they are not saved in checkpoints.
        bases_seed: None (default) draws bases with Jittor's global random
            generator, so two evaluations of the same input differ slightly.
            An int makes evaluation deterministic: in eval mode the bases then
            come from ``numpy.random.default_rng(bases_seed)``, re-seeded on
            every call, one (S, D, R) draw shared by every image of the batch
            (a prediction then also does not depend on the batch it is in).
            Training always uses the global generator.

    Tests and users can replace :meth:`_build_bases` to inject fixed bases.
    """

    def __init__(self, spatial=True, md_s=1, md_d=None, md_r=64, train_steps=6, eval_steps=7, inv_t=100, eta=0.9,
                 rand_init=True, bases_seed=None):
        super().__init__()
        for name, value in (('md_s', md_s), ('md_r', md_r), ('train_steps', train_steps),
                            ('eval_steps', eval_steps)):
            if not isinstance(value, int) or value < (0 if name.endswith('steps') else 1):
                raise ValueError(f'NMF2D: {name} must be a {"non-negative" if "steps" in name else "positive"} '
                                 f'int, got {value!r}')
        if bases_seed is not None and not isinstance(bases_seed, int):
            raise TypeError(f'NMF2D: bases_seed must be None or an int, got {bases_seed!r}')
        self.spatial = bool(spatial)
        self.S = md_s
        self.D = md_d
        self.R = md_r
        self.train_steps = train_steps
        self.eval_steps = eval_steps
        self.inv_t = 1  # the reference NMF2D replaces the configured inv_t by 1
        self.eta = eta
        self.rand_init = bool(rand_init)
        self.bases_seed = bases_seed
        self._fixed_raw_bases = None

    def _build_bases(self, B, S, D, R):
        """Raw (un-normalised) bases, uniform in [0, 1), as a (B*S, D, R) float32 jt.Var."""
        if self.bases_seed is not None and not self.is_training():
            one_image = np.random.default_rng(self.bases_seed).random((S, D, R)).astype(np.float32)
            return jt.array(np.tile(one_image, (B, 1, 1)))
        return jt.rand((B * S, D, R), dtype='float32')

    def _initial_bases(self, B, D):
        if self.rand_init:
            raw = self._build_bases(B, self.S, D, self.R)
        else:
            if self._fixed_raw_bases is None or tuple(self._fixed_raw_bases.shape) != (self.S, D, self.R):
                self._fixed_raw_bases = self._build_bases(1, self.S, D, self.R).stop_grad()
            raw = self._fixed_raw_bases.repeat(B, 1, 1)
        expected = (B * self.S, D, self.R)
        if tuple(raw.shape) != expected:
            raise ValueError(f'NMF2D._build_bases returned shape {tuple(raw.shape)}, expected {expected}')
        raw = raw.float32()
        norm = jt.sqrt((raw * raw).sum(dim=1, keepdims=True))
        return raw / jt.maximum(norm, jt.array(1e-12))

    # Batched products go through ops.matmul (transposes as GEMM flags, oneDNN on the CPU).
    def local_step(self, x, bases, coef):
        """One multiplicative update of coef (B*S, N, R), then of bases (B*S, D, R)."""
        numerator = ops.matmul(x, bases, trans_a=True)
        denominator = ops.matmul(coef, ops.matmul(bases, bases, trans_a=True))
        coef = coef * numerator / (denominator + 1e-6)

        numerator = ops.matmul(x, coef)
        denominator = ops.matmul(bases, ops.matmul(coef, coef, trans_a=True))
        bases = bases * numerator / (denominator + 1e-6)
        return bases, coef

    def local_inference(self, x, bases):
        coef = ops.matmul(x, bases, trans_a=True)
        coef = ops.softmax(self.inv_t * coef)
        steps = self.train_steps if self.is_training() else self.eval_steps
        for _ in range(steps):
            bases, coef = self.local_step(x, bases, coef)
        return bases, coef

    def compute_coef(self, x, bases, coef):
        numerator = ops.matmul(x, bases, trans_a=True)
        denominator = ops.matmul(coef, ops.matmul(bases, bases, trans_a=True))
        return coef * numerator / (denominator + 1e-6)

    def execute(self, x):
        B, C, H, W = x.shape
        if C % self.S:
            raise ValueError(f'NMF2D: {C} channels cannot be split into MD_S={self.S} groups')
        if self.spatial:
            D, N = C // self.S, H * W
            x = x.reshape(B * self.S, D, N)
        else:
            D, N = H * W, C // self.S
            x = x.reshape(B * self.S, N, D).transpose(0, 2, 1)

        bases = self._initial_bases(B, D)
        bases, coef = self.local_inference(x, bases)
        coef = self.compute_coef(x, bases, coef)
        x = ops.matmul(bases, coef, trans_b=True)

        if self.spatial:
            return x.reshape(B, C, H, W)
        return x.transpose(0, 2, 1).reshape(B, C, H, W)

    def extra_repr(self):
        return (f'S={self.S}, R={self.R}, train_steps={self.train_steps}, eval_steps={self.eval_steps}, '
                f'rand_init={self.rand_init}, bases_seed={self.bases_seed}')


class Hamburger(nn.Module):
    """1x1 conv (ham_in) -> ReLU -> NMF (ham) -> 1x1 conv + norm (ham_out), added to the input, ReLU."""

    def __init__(self, ham_channels=512, ham_kwargs=None, norm_cfg=None, bases_seed=None):
        super().__init__()
        self.ham_in = ConvModule(ham_channels, ham_channels, 1, norm_cfg=None, act_cfg=None)
        self.ham = NMF2D(**_normalize_ham_kwargs(ham_kwargs), bases_seed=bases_seed)
        self.ham_out = ConvModule(ham_channels, ham_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def execute(self, x):
        enjoy = nn.relu(self.ham_in(x))
        enjoy = self.ham(enjoy)
        enjoy = self.ham_out(enjoy)
        return nn.relu(x + enjoy)


@HEADS.register_module()
class LightHamHead(BaseDecodeHead):
    """Hamburger head of DFormer / SegNeXt.

    The selected features (``in_index``, usually strides 8, 16, 32) are resized
    to the first one, concatenated, squeezed to ``ham_channels`` by a 1x1
    conv, passed through the :class:`Hamburger` and aligned to ``channels``
    before the classifier. Output stride is that of the first selected feature.

    Args:
        ham_channels: channels inside the Hamburger (512 in the official models).
        ham_kwargs: NMF options, upper- or lower-case keys: MD_S (1), MD_R (64),
            TRAIN_STEPS (6), EVAL_STEPS (7), INV_T, ETA, RAND_INIT (True), SPATIAL.
        nmf_seed: None or an int; when an int, evaluation is deterministic
            (see :class:`NMF2D` ``bases_seed``). Can also be changed later via
            ``head.hamburger.ham.bases_seed``.
        **kwargs: :class:`BaseDecodeHead` arguments (in_channels, channels,
            num_classes, in_index, norm_cfg, ...). ``input_transform`` is
            always 'multiple_select'.
    """

    def __init__(self, ham_channels=512, ham_kwargs=None, nmf_seed=None, **kwargs):
        if kwargs.get('input_transform', 'multiple_select') != 'multiple_select':
            raise ValueError('LightHamHead always uses input_transform="multiple_select"')
        kwargs['input_transform'] = 'multiple_select'
        super().__init__(**kwargs)
        self.ham_channels = ham_channels
        self.squeeze = ConvModule(sum(self.in_channels), ham_channels, 1, norm_cfg=self.norm_cfg,
                                  act_cfg=self.act_cfg)
        self.hamburger = Hamburger(ham_channels, ham_kwargs, norm_cfg=self.norm_cfg, bases_seed=nmf_seed)
        self.align = ConvModule(ham_channels, self.channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.init_weights()

    def execute(self, inputs):
        x = self.resize_concat(self._transform_inputs(inputs))
        x = self.squeeze(x)
        x = self.hamburger(x)
        x = self.align(x)
        return self.cls_seg(x)
