"""bf16 inference (dformer_seg.ops.precision): the bf16 kernels against a numpy reference on bf16-rounded inputs,
the accuracy guard against float32, and the float32 and training paths left exactly as they were."""
import os
import subprocess
import sys

import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import attention, conv2d_nhwc, fast_ops, kernels, linear, pointwise_conv2d
from dformer_seg.ops.precision import (
    PrecisionError,
    bf16_weight,
    check_precision,
    convert_model_precision,
    current_precision,
    inference_precision,
    model_precision,
    precision_unavailable_reason,
    set_inference_precision,
    to_bf16,
)

from op_test_utils import random_array, skip_unless_kernels_run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BF16_REASON = precision_unavailable_reason('bf16')
needs_bf16 = pytest.mark.skipif(BF16_REASON is not None, reason=f'no bf16 here: {BF16_REASON}')


def bf16_round(a):
    """Round float32 to the nearest bf16 (ties to even), returned as float32: the numpy reference."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) << 16
    return rounded.astype(np.uint32).view(np.float32)


def bf16_bits_to_float(bits):
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def run_bf16(op_name, fn):
    """``fn()`` under bf16 inference, as numpy; the op's bf16 kernel must have run."""
    skip_unless_kernels_run()
    before = kernels.kernel_builds[op_name]
    with inference_precision('bf16'), jt.no_grad():
        out = fn().numpy()
    assert kernels.kernel_builds[op_name] > before, f'the {op_name} kernel did not run'
    return out


def test_to_bf16_rounds_to_nearest_even():
    skip_unless_kernels_run()
    values = np.array([1.0, 1.00390625, 1.01171875, 1.0039063, -2.5e-41, 3.4e38, np.inf, -np.inf, 1e-45,
                       65504.0, -0.0], dtype=np.float32)  # 1 + 2^-8 is a tie (to 1), 1 + 3 * 2^-8 (to 1 + 2^-6)
    bits = to_bf16(jt.array(values)).numpy()
    assert bits.dtype == np.uint16
    np.testing.assert_array_equal(bf16_bits_to_float(bits), bf16_round(values))
    assert bf16_bits_to_float(bits)[1] == 1.0 and bf16_bits_to_float(bits)[2] == 1.015625
    assert np.isnan(bf16_bits_to_float(to_bf16(jt.array(np.array([np.nan], np.float32))).numpy())).all()


def _assert_bf16_result(out, exact_on_rounded, float32_result, tolerance=2 ** -7):
    """Close to the product of the bf16-rounded inputs (float32 accumulation), within ``tolerance`` (relative to
    the largest value) of float32."""
    scale = float(np.abs(float32_result).max())
    np.testing.assert_allclose(out, exact_on_rounded, rtol=1e-4, atol=1e-5 * scale)
    error = float(np.abs(out - float32_result).max())
    assert 0 < error <= tolerance * scale, f'bf16 error {error:.3g} against float32 (scale {scale:.3g})'


@needs_bf16
def test_linear_bf16_with_epilogue():
    rng = np.random.default_rng(0)
    x, weight, bias = random_array(rng, (3, 7, 40)), random_array(rng, (24, 40)), random_array(rng, (24,))
    scale, residual = random_array(rng, (24,)), random_array(rng, (3, 7, 24))
    args = [jt.array(a) for a in (x, weight, bias)]
    out = run_bf16('linear_bf16', lambda: linear(*args, activation='gelu', multiplier=jt.array(scale),
                                                 residual=jt.array(residual)))

    def reference(x, weight):
        pre = x.astype(np.float64) @ weight.T.astype(np.float64) + bias
        from math import erf
        gelu = pre * 0.5 * (1 + np.vectorize(erf)(pre / np.sqrt(2)))
        return (residual + scale * gelu).astype(np.float32)

    _assert_bf16_result(out, reference(bf16_round(x), bf16_round(weight)), reference(x, weight))


@needs_bf16
def test_pointwise_conv_bf16():
    rng = np.random.default_rng(1)
    x, weight, bias = random_array(rng, (2, 24, 5, 6)), random_array(rng, (16, 24, 1, 1)), random_array(rng, (16,))
    out = run_bf16('pointwise_conv2d_bf16', lambda: pointwise_conv2d(jt.array(x), jt.array(weight), jt.array(bias)))

    def reference(x, weight):
        return np.einsum('oc,nchw->nohw', weight[:, :, 0, 0].astype(np.float64), x) + bias[:, None, None]

    _assert_bf16_result(out, reference(bf16_round(x), bf16_round(weight)), reference(x, weight))


@needs_bf16
def test_conv_nhwc_bf16():
    rng = np.random.default_rng(2)
    x, weight, bias = random_array(rng, (1, 9, 11, 8)), random_array(rng, (16, 8, 3, 3)), random_array(rng, (16,))
    out = run_bf16('conv2d_nhwc_bf16', lambda: conv2d_nhwc(jt.array(x), jt.array(weight), jt.array(bias), 2, 1))

    def reference(x, weight):
        padded = np.pad(x.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = np.zeros((1, 5, 6, 16))
        for i in range(5):
            for j in range(6):
                patch = padded[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]  # (3, 3, C_in)
                out[0, i, j] = np.einsum('hwc,ochw->o', patch, weight) + bias
        return out

    _assert_bf16_result(out, reference(bf16_round(x), bf16_round(weight)), reference(x, weight))


@needs_bf16
@pytest.mark.parametrize('batch', [1, 5])  # fewer entries than threads (threads inside), and one per thread
def test_attention_bf16(batch):
    rng = np.random.default_rng(3)
    q, k, v = (random_array(rng, (batch, n, 16), -2, 2) for n in (9, 13, 13))
    bias = random_array(rng, (batch, 9, 13))
    out = run_bf16('attention_bf16', lambda: attention(jt.array(q), jt.array(k), jt.array(v), jt.array(bias)))

    def reference(q, k, v, round_probabilities):
        scores = np.einsum('bqd,bkd->bqk', q.astype(np.float64), k) + bias
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p = (p / p.sum(-1, keepdims=True)).astype(np.float32)
        return np.einsum('bqk,bkd->bqd', bf16_round(p) if round_probabilities else p, v.astype(np.float64))

    rounded = [bf16_round(t) for t in (q, k, v)]
    # The scores' rounding errors pass through exp: a looser bound against float32 than a single product.
    _assert_bf16_result(out, reference(*rounded, True), reference(q, k, v, False), tolerance=2 ** -5)


@needs_bf16
def test_training_and_float32_paths_are_untouched():
    """With gradients bf16 changes nothing; after bf16, float32 results are bit-identical to before."""
    skip_unless_kernels_run()
    rng = np.random.default_rng(4)
    x, weight, bias = random_array(rng, (30, 20)), random_array(rng, (12, 20)), random_array(rng, (12,))

    def forward_of(x_var):
        return linear(x_var, jt.array(weight), jt.array(bias), activation='gelu')

    def forward():
        return forward_of(jt.array(x))

    def trained():  # with a gradient: the training form
        x_var = jt.array(x)
        out = forward_of(x_var)
        return out.numpy(), jt.grad(out.sum(), x_var).numpy()

    with jt.no_grad():
        before = forward().numpy()
    fp32_out, fp32_grad = trained()
    with inference_precision('bf16'):
        bf16_out, bf16_grad = trained()
        with jt.no_grad():
            low = forward().numpy()
    with jt.no_grad():
        after = forward().numpy()
    np.testing.assert_array_equal(bf16_out, fp32_out)
    np.testing.assert_array_equal(bf16_grad, fp32_grad)
    np.testing.assert_array_equal(after, before)
    assert not np.array_equal(low, before)  # the bf16 kernel did run in between
    assert current_precision() == 'fp32'


@needs_bf16
def test_plain_formulation_stays_float32():
    """Where the kernels do not run (here: switched off; likewise on CUDA), bf16 changes nothing."""
    rng = np.random.default_rng(6)
    x, weight = random_array(rng, (6, 8)), random_array(rng, (4, 8))
    with fast_ops(False), jt.no_grad():
        plain = linear(jt.array(x), jt.array(weight)).numpy()
        with inference_precision('bf16'):
            np.testing.assert_array_equal(linear(jt.array(x), jt.array(weight)).numpy(), plain)


def test_unknown_precision_is_one_clear_line():
    with pytest.raises(PrecisionError, match="unknown precision 'fp16'; choose one of fp32, bf16"):
        set_inference_precision('fp16')
    assert current_precision() == 'fp32'


def test_cpu_without_bf16_is_refused():
    """oneDNN capped below AVX512-BF16 (as on an AVX-512 CPU without it, or AVX2) refuses bf16 by name."""
    code = ('from dformer_seg import runtime; runtime.setup("cpu")\n'
            'from dformer_seg.ops.precision import PrecisionError, check_precision\n'
            'check_precision("fp32")\n'
            'try:\n    check_precision("bf16")\nexcept PrecisionError as e:\n    print("refused:", e)\n')
    for isa in ('AVX512_CORE', 'AVX2'):
        result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True,
                                env=dict(os.environ, DNNL_MAX_CPU_ISA=isa))
        assert result.returncode == 0, result.stderr[-2000:]
        assert 'refused: bf16 inference needs a CPU with AVX512-BF16 or AMX-BF16 instructions' in result.stdout, isa


def _tiny_segmentor(config):
    from dformer_seg import models  # noqa: F401  (registers the segmentors)
    from dformer_seg.config import Config
    from dformer_seg.registry import SEGMENTORS
    model_cfg = Config.fromfile(os.path.join(REPO, config)).to_dict()['model']
    model_cfg['pretrained'] = None
    model_cfg.pop('init_cfg', None)
    jt.set_global_seed(0)  # the same random weights on every run
    model = SEGMENTORS.build(model_cfg)
    model.eval()
    return model


# Random weights (no trained checkpoint in the repository): a weak test of reduced precision, since untrained
# logits lie close together. Measured at this size with other random weights: 99.2-99.7% (DFormer-T),
# 99.5-100% (DFormerv2-S); the threshold leaves a margin.
@needs_bf16
@pytest.mark.parametrize('config, threshold', [('configs/dformer/dformer_tiny_nyu.py', 0.97),
                                               ('configs/dformerv2/dformerv2_s_nyu.py', 0.97)])
def test_whole_model_bf16_agrees_with_fp32(config, threshold):
    skip_unless_kernels_run()
    model = _tiny_segmentor(config)
    rng = np.random.default_rng(5)
    img = jt.array(rng.standard_normal((1, 3, 64, 96)).astype(np.float32))
    depth = jt.array(rng.standard_normal((1, 1, 64, 96)).astype(np.float32))
    with jt.no_grad():
        fp32 = model.encode_decode(img, depth).numpy()
        convert_model_precision(model, 'bf16')
        assert model_precision(model) == 'bf16'
        before = kernels.kernel_builds['linear_bf16']
        with inference_precision(model_precision(model)):
            bf16 = model.encode_decode(img, depth).numpy()
        assert kernels.kernel_builds['linear_bf16'] > before
        again = model.encode_decode(img, depth).numpy()
    np.testing.assert_array_equal(again, fp32)  # float32 outside the block, bit for bit
    agreement = float((bf16.argmax(1) == fp32.argmax(1)).mean())
    assert agreement >= threshold, f'argmax agreement {agreement:.4f} < {threshold}'
    scale = float(np.abs(fp32).max())
    assert float(np.abs(bf16 - fp32).max()) <= 0.05 * scale


@needs_bf16
def test_converted_weights_are_used_and_dropped():
    from jittor import nn

    from dformer_seg.ops import Linear

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = Linear(8, 4)
            self.conv = nn.Conv2d(4, 4, 3)
            self.depthwise = nn.Conv2d(4, 4, 3, groups=4)

    model = Two()
    keys = sorted(model.state_dict())
    convert_model_precision(model, 'bf16')
    copy = bf16_weight(model.fc.weight)
    assert bf16_weight(model.fc.weight) is copy and bf16_weight(model.conv.weight) is not None
    np.testing.assert_array_equal(copy.numpy(), to_bf16(model.fc.weight).numpy())
    assert bf16_weight(model.depthwise.weight) is not bf16_weight(model.depthwise.weight)  # converted per call
    assert sorted(model.state_dict()) == keys
    convert_model_precision(model, 'fp32')
    assert model_precision(model) == 'fp32' and bf16_weight(model.fc.weight) is not copy
    with pytest.raises(PrecisionError, match='unknown precision'):
        convert_model_precision(model, 'int4')
    check_precision('fp32')
