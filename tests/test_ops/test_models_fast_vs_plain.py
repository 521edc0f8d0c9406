"""The models give the same outputs and gradients with the fast CPU ops as with the plain Jittor ops.

Covers the fused inference paths (no gradient) and the composed paths with their backward kernels,
inside the real blocks (channels-last layouts, strided attention, residual / GELU epilogues).
The fast run must have built kernels (``ops.kernels.kernel_builds``) and the plain run none; where the
kernels cannot run (``DFORMER_SEG_FAST_OPS=0``, CUDA, no oneDNN) the tests skip with the reason.
"""
import jittor as jt
import numpy as np
import pytest

from dformer_seg.models.backbones.dformer import DFormer
from dformer_seg.models.backbones.dformerv2 import DFormerv2
from dformer_seg.models.decode_heads.ham_head import LightHamHead
from dformer_seg.ops import fast_ops, kernels

from op_test_utils import skip_unless_kernels_run
from parity_fixtures import fixture_dir, load_config


def _activate_layer_scales(model):
    # DFormer's layer scales start at 1e-6, which would hide the residual branches from the comparison.
    for name, param in model.named_parameters():
        if 'layer_scale' in name or 'gamma' in name:
            param.assign(jt.full(param.shape, 0.5))


def _outputs_and_grads(model, inputs, projections):
    with jt.no_grad():
        outputs = [o.numpy() for o in model(*inputs)]
    params = [p for p in model.parameters() if not p.is_stop_grad()]
    loss = sum((o * r).sum() for o, r in zip(model(*inputs), projections))
    return outputs, [g.numpy() for g in jt.grad(loss, params)]


def _fast_and_plain(model, inputs, projections):
    """Outputs and gradients with the kernels, then without; the first run must build kernels, the second none."""
    skip_unless_kernels_run()
    before = sum(kernels.kernel_builds.values())
    fast = _outputs_and_grads(model, inputs, projections)
    after_fast = sum(kernels.kernel_builds.values())
    assert after_fast > before, 'no fast-op kernel ran: this would compare plain with plain'
    with fast_ops(False):
        plain = _outputs_and_grads(model, inputs, projections)
    assert sum(kernels.kernel_builds.values()) == after_fast, 'a kernel ran under fast_ops(False)'
    return fast, plain


def _assert_close(fast, plain, what):
    scale = max(float(np.abs(plain).max()), 1e-3)
    diff = float(np.abs(fast - plain).max())
    assert diff <= 2e-5 * scale, f'{what}: max diff {diff:.3g} (scale {scale:.3g})'


@pytest.mark.parametrize('name,cls', [('dformer_v1_mini', DFormer), ('dformer_v2_mini', DFormerv2)])
def test_backbone_outputs_and_gradients(name, cls):
    model = cls(**dict(load_config(fixture_dir(name))['backbone']['args'], drop_path_rate=0.0))
    _activate_layer_scales(model)
    model.eval()
    rng = np.random.default_rng(0)
    inputs = [jt.array(rng.standard_normal((1, 3, 45, 61)).astype(np.float32)),
              jt.array(rng.uniform(0, 1, (1, 1, 45, 61)).astype(np.float32))]
    with jt.no_grad():
        shapes = [tuple(o.shape) for o in model(*inputs)]
    projections = [jt.array(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    (fast_out, fast_grads), (plain_out, plain_grads) = _fast_and_plain(model, inputs, projections)
    for i, (f, p) in enumerate(zip(fast_out, plain_out)):
        _assert_close(f, p, f'feature {i}')
    names = [n for n, p in model.named_parameters() if not p.is_stop_grad()]
    for param_name, f, p in zip(names, fast_grads, plain_grads):
        _assert_close(f, p, f'gradient of {param_name}')


def test_light_ham_head_outputs_and_gradients():
    head = LightHamHead(in_channels=[8, 16], in_index=[0, 1], channels=16, ham_channels=16, num_classes=3,
                        norm_cfg=dict(type='BN'), ham_kwargs=dict(MD_R=4), nmf_seed=0)
    head.eval()  # fixed NMF bases (nmf_seed), so that both runs see the same ones
    rng = np.random.default_rng(1)
    feats = [jt.array(rng.uniform(0, 1, (1, 8, 12, 10)).astype(np.float32)),
             jt.array(rng.uniform(0, 1, (1, 16, 6, 5)).astype(np.float32))]
    projection = [jt.array(rng.standard_normal((1, 3, 12, 10)).astype(np.float32))]

    class Wrapped:
        def __call__(self, *features):
            return [head(list(features))]

        def parameters(self):
            return head.parameters()

        def named_parameters(self):
            return head.named_parameters()

    (fast_out, fast_grads), (plain_out, plain_grads) = _fast_and_plain(Wrapped(), feats, projection)
    _assert_close(fast_out[0], plain_out[0], 'logits')
    for (param_name, _), f, p in zip([(n, p) for n, p in head.named_parameters() if not p.is_stop_grad()],
                                     fast_grads, plain_grads):
        _assert_close(f, p, f'gradient of {param_name}')
