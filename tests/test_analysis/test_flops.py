"""FLOP/parameter counter: small modules with hand-computed counts, then the real backbones against
their architecture formulas.

Jittor builds graphs lazily and the counter reads shapes only, so nothing here runs a kernel
except the one test that checks the wrapped model still computes the same values.
"""
import math

import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg import ops
from dformer_seg.analysis import (
    FAST_OP_HELPERS,
    FlopCounter,
    count_flops,
    count_parameters,
    flops_by_module,
    format_report,
    profile_flops,
    thop_equivalents,
    uncovered_fast_ops,
)
from dformer_seg.models.backbones import dformer as dformer_v1
from dformer_seg.models.backbones.dformer import ChannelsLastLayerNorm
from dformer_seg.models.backbones.dformerv2 import ChannelsLastDWConv, dwconv_plus_input
from dformer_seg.models.backbones.dformerv2 import LayerNorm as V2LayerNorm
from dformer_seg.models.decode_heads.head_layers import AdaptiveAvgPool2d as HeadAdaptiveAvgPool2d
from dformer_seg.models.utils import resize
from dformer_seg.registry import SEGMENTORS


def counts(model, *inputs, forward=None):
    report = profile_flops(model, *inputs, forward=forward)
    return report.thop_flops, report.full_flops


class Lambda(nn.Module):
    """A module whose forward is an arbitrary function: no rule of its own, counted by its ops."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def execute(self, *args):
        return self.fn(*args)


# ------------------------------------------------------------------ layers
def test_conv_counts_output_elements_times_fan_in():
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    # 9x11 -> 5x6 outputs, 8 channels, each 3*3*3 multiply-adds (+1 bias add in the full count).
    assert counts(conv, jt.zeros((1, 3, 9, 11))) == (240 * 27, 240 * 27 + 240)


def test_conv_with_groups_stride_padding_and_rectangular_kernel():
    grouped = nn.Conv2d(8, 12, 3, padding=1, groups=4, bias=False)
    # 2 images x 12 x 5 x 6 outputs, each 8/4 = 2 input channels x 9 taps; no bias.
    assert counts(grouped, jt.zeros((2, 8, 5, 6))) == (720 * 18, 720 * 18)
    depthwise = nn.Conv2d(6, 6, 3, padding=1, groups=6)
    assert counts(depthwise, jt.zeros((1, 6, 4, 4))) == (96 * 9, 96 * 9 + 96)
    strided = nn.Conv2d(2, 3, (3, 5), stride=(2, 1), padding=(0, 2), bias=False)
    # rows (7 - 3) // 2 + 1 = 3, columns 8 + 4 - 5 + 1 = 8: 72 outputs x 2 x 15 taps
    assert counts(strided, jt.zeros((1, 2, 7, 8))) == (72 * 30, 72 * 30)


def test_linear_on_3d_and_4d_inputs():
    linear = nn.Linear(6, 4)
    assert counts(linear, jt.zeros((2, 5, 6))) == (40 * 6, 40 * 6 + 40)
    assert counts(linear, jt.zeros((2, 3, 5, 6))) == (120 * 6, 120 * 6 + 120)
    no_bias = nn.Linear(6, 4, bias=False)
    assert counts(no_bias, jt.zeros((3, 6))) == (12 * 6, 12 * 6)


def test_batchnorm_thop_four_per_element_full_counts_the_folded_eval_arithmetic():
    bn = nn.BatchNorm2d(4)
    # thop: 4 x 120 inputs. Full (eval): x * w + b per element, and per channel
    # running_var + eps, sqrt, weight / ..., running_mean * w, bias - ... = 5 ops.
    assert counts(bn, jt.zeros((2, 4, 3, 5))) == (480, 2 * 120 + 5 * 4)


def test_layernorms_thop_counts_framework_ones_only():
    x = jt.zeros((2, 3, 6))
    n, rows = 36, 6
    # Hand-written (DFormer v1): thop sees nothing; full: mean, subtract, square, mean,
    # + eps and sqrt per row, divide, * weight, + bias.
    assert counts(ChannelsLastLayerNorm(6), x) == (0, 7 * n + 2 * rows)
    # DFormerv2's LayerNorm is torch.nn.LayerNorm in the reference: thop counts 4 per element.
    assert counts(V2LayerNorm(6), x) == (4 * n, 7 * n + 2 * rows)
    assert counts(nn.LayerNorm(6), x)[0] == 4 * n
    assert counts(nn.LayerNorm(6, elementwise_affine=False), x)[0] == 2 * n
    assert counts(nn.GroupNorm(2, 4), jt.zeros((1, 4, 3, 3)))[0] == 4 * 36


def test_adaptive_average_pooling():
    x = jt.zeros((1, 2, 8, 12))
    # thop: (bin area 4*4 + 1) per output, 2*2*3 outputs. Full: the head's pooling is two
    # averaging matmuls: (2, 8) @ x -> 48 outputs x 8, then @ (12, 3) -> 12 outputs x 12.
    assert counts(HeadAdaptiveAvgPool2d((2, 3)), x) == (17 * 12, 48 * 8 + 12 * 12)
    # Global pooling is a mean: 96 inputs per channel.
    assert counts(HeadAdaptiveAvgPool2d(1), x) == ((96 + 1) * 2, 192)
    # Jittor's own layer: thop the same way, full a window sum per output.
    assert counts(nn.AdaptiveAvgPool2d((3, 4)), jt.zeros((1, 2, 6, 8))) == (5 * 24, 4 * 24)
    # DFormer v1's window pooling (NHWC maps -> 7 x 7 tokens) stands for nn.AdaptiveAvgPool2d((7, 7)) of the
    # maps' channel concatenation in the reference. (Called through a module: that is how the backbone
    # reaches it, and what the counter patches.)
    pool = Lambda(lambda t: dformer_v1.pool_window_tokens([t, t[..., :1]], 7))
    thop, full = counts(pool, jt.zeros((1, 14, 21, 2)))
    assert thop == (2 * 3 + 1) * 49 * 3
    assert full == (14 * 7 * 21 + 7 * 14 * 7) * 3  # per channel: (14 x 7, 21) x 21, then (7, 14) x (14, 7)
    # A bin area that is not an integer is kept as a fraction (thop), the total truncated.
    thop, _ = counts(Lambda(lambda t: dformer_v1.pool_window_tokens([t], 7)), jt.zeros((1, 10, 10, 1)))
    assert thop == int(((10 / 7) * (10 / 7) + 1) * 49)


def test_pools_counted_once_through_wrapper_modules():
    pool = nn.AvgPool2d(2)
    assert counts(pool, jt.zeros((1, 1, 4, 4))) == (4, 4 * 4)
    maxpool = nn.MaxPool2d(2)
    assert counts(maxpool, jt.zeros((1, 1, 4, 4))) == (0, 4 * 4)


def test_matmuls():
    a3, b2, b3 = jt.zeros((2, 3, 4)), jt.zeros((4, 5)), jt.zeros((2, 4, 5))
    for fn in (lambda: jt.matmul(a3, b2), lambda: nn.matmul(a3, b3), lambda: nn.bmm(a3, b3), lambda: a3 @ b3):
        assert counts(Lambda(fn)) == (0, 2 * 3 * 5 * 4)
    assert counts(Lambda(lambda: nn.matmul_transpose(jt.zeros((3, 4)), jt.zeros((5, 4))))) == (0, 60)


def test_softmax():
    x = jt.zeros((2, 3, 5))
    # per row of n: max n-1, subtract n, exp n, sum n-1, divide n
    assert counts(Lambda(lambda: nn.softmax(x, dim=-1))) == (0, 6 * (5 * 5 - 2))
    assert counts(Lambda(lambda: nn.softmax(x, dim=1))) == (0, 10 * (5 * 3 - 2))
    assert counts(Lambda(lambda: x.softmax(2))) == (0, 6 * 23)
    # thop counts the Softmax *module*: (3n - 1) per row.
    assert counts(nn.Softmax(dim=1), x) == (10 * 8, 10 * 13)


def test_interpolation():
    x = jt.zeros((1, 2, 3, 4))
    assert counts(Lambda(lambda: nn.interpolate(x, size=(6, 8), mode='bilinear'))) == (0, 96 * 11)
    assert counts(Lambda(lambda: resize(x, size=(6, 8)))) == (0, 96 * 11)
    assert counts(Lambda(lambda: resize(x, size=(3, 4)))) == (0, 0)  # same size: nothing runs
    assert counts(Lambda(lambda: nn.interpolate(x, size=(6, 8), mode='nearest'))) == (0, 0)
    assert counts(nn.Upsample(scale_factor=2, mode='bilinear'), x) == (96 * 11, 96 * 11)


def test_activations_and_elementwise_ops():
    x, y, v = jt.zeros((2, 5)), jt.zeros((2, 3)), jt.zeros((3,))
    assert counts(nn.GELU(), x) == (0, 5 * 10)
    assert counts(nn.ReLU(), x) == (0, 10)
    assert counts(Lambda(lambda: nn.relu(x))) == (0, 10)
    assert counts(Lambda(lambda: nn.gelu(x))) == (0, 50)
    # mul 6, broadcast add 6, exp 6, sum over dim 1: 3 -> 1 per row = 2 * 2
    assert counts(Lambda(lambda: (y * 2 + v).exp().sum(dim=1))) == (0, 6 + 6 + 6 + 4)
    assert counts(Lambda(lambda: 1.0 - jt.sqrt(y.abs()) / 3)) == (0, 4 * 6)
    assert counts(Lambda(lambda: -y.maximum(0.5).mean())) == (0, 6 + 6 + 1)


# ------------------------------------------------ fast ops (dformer_seg.ops)
def test_fast_matmul_softmax_layer_norm_gelu_resize():
    a, b = jt.zeros((2, 3, 4)), jt.zeros((2, 5, 4))
    # (2, 3, 5) outputs, 4 multiply-adds each, whichever operand is transposed
    assert counts(Lambda(lambda: ops.matmul(a, b, trans_b=True))) == (0, 30 * 4)
    assert counts(Lambda(lambda: ops.matmul(jt.zeros((2, 4, 3)), jt.zeros((2, 4, 5)), trans_a=True))) == (0, 120)
    x = jt.zeros((2, 3, 5))
    assert counts(Lambda(lambda: ops.softmax(x))) == (0, 6 * (5 * 5 - 2))
    assert counts(Lambda(lambda: ops.softmax(x, dim=1))) == (0, 10 * (5 * 3 - 2))
    assert counts(Lambda(lambda: ops.softmax(x, bias=x))) == (0, 30 + 6 * 23)  # + the bias add
    y = jt.zeros((2, 3, 6))
    # 36 elements in 6 rows: 7 per element, + eps and sqrt per row; thop: a functional op
    assert counts(Lambda(lambda: ops.layer_norm(y, jt.ones(6), jt.zeros(6), 1e-6))) == (0, 7 * 36 + 2 * 6)
    assert counts(Lambda(lambda: ops.gelu(jt.zeros((2, 5))))) == (0, 5 * 10)
    assert counts(ops.GELU(), jt.zeros((2, 5))) == (0, 5 * 10)
    assert counts(Lambda(lambda: ops.bilinear_resize(jt.zeros((1, 2, 3, 4)), (6, 8)))) == (0, 96 * 11)


def test_fast_linear_and_convs():
    x = jt.zeros((2, 5, 6))
    # 40 outputs x 6 in_features, + 40 bias adds; thop sees no layer in the functional form
    assert counts(Lambda(lambda: ops.linear(x, jt.zeros((4, 6)), jt.zeros(4)))) == (0, 40 * 6 + 40)
    assert counts(ops.Linear(6, 4), x) == (40 * 6, 40 * 6 + 40)
    # a fused GELU: 5 per output in the full count, nothing in thop (activations count zero)
    assert counts(ops.Linear(6, 4, activation='gelu'), x) == (40 * 6, 40 * 6 + 40 + 5 * 40)
    assert counts(Lambda(lambda: ops.linear(x, jt.zeros((4, 6)), None, activation='gelu'))) == (0, 40 * 6 + 5 * 40)
    image = jt.zeros((1, 3, 4, 5))
    assert counts(Lambda(lambda: ops.pointwise_conv2d(image, jt.zeros((6, 3, 1, 1))))) == (0, 120 * 3)
    assert counts(ops.Conv2d(3, 6, 1), image) == (120 * 3, 120 * 3 + 120)
    assert counts(ops.Conv2d(3, 6, 3, padding=1, bias=False), image) == (120 * 27, 120 * 27)


def test_fast_depthwise_conv_counts_as_the_conv2d_it_replaces():
    x = jt.zeros((1, 4, 5, 6))  # NHWC, 6 channels
    conv = ChannelsLastDWConv(6, 3, 1)  # holds an nn.Conv2d(6, 6, 3, groups=6) it never calls
    # 120 outputs x 9 taps; full: + bias add, + residual add
    report = profile_flops(conv, x)
    assert (report.thop_flops, report.full_flops) == (1080, 1080 + 120)
    assert report.thop_by_type == {'Conv': 1080}
    # thop counts the nn.Conv2d's parameters although the module itself never runs
    assert report.thop_params == 6 * 9 + 6 and report.params_outside_thop == {}
    assert counts(conv, x, forward=lambda t: dwconv_plus_input(conv, t)) == (1080, 1080 + 2 * 120)
    fused = Lambda(lambda t: ops.depthwise_conv2d_nhwc(t, conv.dwconv.weight, conv.dwconv.bias, 1, residual=t,
                                                       activation='gelu'))
    assert counts(fused, x) == (1080, 1080 + 2 * 120 + 5 * 120)
    no_padding = Lambda(lambda t: ops.depthwise_conv2d_nhwc(t, jt.zeros((6, 1, 3, 3))))
    assert counts(no_padding, x) == (2 * 3 * 6 * 9, 2 * 3 * 6 * 9)  # 2 x 3 outputs per channel, no bias


def test_fast_dense_nhwc_conv_counts_as_the_conv2d_it_replaces():
    class StridedNHWCConv(nn.Module):  # holds an nn.Conv2d it never calls, like DFormer's downsampling
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)

        def execute(self, t):
            return ops.conv2d_nhwc(t, self.conv.weight, self.conv.bias, self.conv.stride, self.conv.padding)

    x = jt.zeros((1, 6, 8, 3))  # NHWC, 3 channels
    report = profile_flops(StridedNHWCConv(), x)
    outputs = 3 * 4 * 4  # 3 x 4 pixels, 4 channels
    assert (report.thop_flops, report.full_flops) == (outputs * 27, outputs * 27 + outputs)
    assert report.thop_by_type == {'Conv': outputs * 27}
    assert report.thop_params == 4 * 27 + 4 and report.params_outside_thop == {}


def test_fast_attention_rotary_and_geometry_attention():
    q, k, v, bias = jt.zeros((1, 2, 5, 4)), jt.zeros((1, 2, 6, 4)), jt.zeros((1, 2, 6, 3)), jt.zeros((1, 2, 5, 6))
    # 2 heads, 5 queries, 6 keys, d 4, dv 3: q k^T 2*5*6*4, softmax 10 rows of 6, probabilities @ v 2*5*3*6
    without_bias = 240 + 10 * (5 * 6 - 2) + 180
    assert counts(Lambda(lambda: ops.attention(q, k, v))) == (0, without_bias)
    assert counts(Lambda(lambda: ops.attention(q, k, v, bias))) == (0, without_bias + 60)
    table = jt.zeros((3, 4, 4))
    # 96 elements: x * cos, rotated * sin, the sum, and the negation of one member per pair
    assert counts(Lambda(lambda: ops.rotate_pairs(jt.zeros((1, 2, 3, 4, 4)), table, table))) == (0, 3 * 96 + 48)
    # B 1, 2 heads, H 3, W 4, d 2. Rows: 3 lines of L = 4; columns: 4 lines of L = 3.
    # prior per pass: 2L (index ramp) + 6 L^2 (|i - j|, x decay, x a) + 2 * lines * L^2 (|d_i - d_j|)
    # + 3 * heads * lines * L^2 (x decay, x b, sum); attention over heads * lines entries with the prior as bias.
    rows = (8 + 6 * 16 + 2 * 3 * 16 + 3 * 2 * 3 * 16) + (6 * 4 * 4 * 2 + 6 * 16 + 24 * (5 * 4 - 2) + 6 * 4 * 2 * 4)
    columns = (6 + 6 * 9 + 2 * 4 * 9 + 3 * 2 * 4 * 9) + (8 * 3 * 3 * 2 + 8 * 9 + 24 * (5 * 3 - 2) + 8 * 3 * 2 * 3)
    assert (rows, columns) == (1400, 1020)
    geometry = Lambda(lambda: ops.decomposed_geometry_attention(
        jt.zeros((1, 2, 3, 4, 2)), jt.zeros((1, 2, 3, 4, 2)), jt.zeros((1, 3, 4, 4)), jt.zeros((1, 1, 3, 4)),
        jt.zeros((2,)), jt.ones((2, 1, 1, 1))))
    assert counts(geometry) == (0, rows + columns)


FAST_OP_CALLS = {  # one call per fast op whose plain formulation the counter can follow op by op
    'matmul': lambda f: f(jt.zeros((2, 4, 3)), jt.zeros((2, 5, 4)), trans_a=True, trans_b=True),
    'softmax': lambda f: f(jt.zeros((2, 3, 5)), bias=jt.zeros((2, 3, 5))),
    'layer_norm': lambda f: f(jt.zeros((2, 3, 6)), jt.ones(6), jt.zeros(6), 1e-6),
    'gelu': lambda f: f(jt.zeros((2, 5))),
    'bilinear_resize': lambda f: f(jt.zeros((1, 2, 3, 4)), (5, 7), align_corners=True),
    'linear': lambda f: f(jt.zeros((2, 5, 6)), jt.zeros((4, 6)), jt.zeros(4), activation='gelu'),
    'attention': lambda f: f(jt.zeros((1, 2, 5, 4)), jt.zeros((1, 2, 6, 4)), jt.zeros((1, 2, 6, 3)),
                             jt.zeros((1, 2, 5, 6))),
    'rotate_pairs': lambda f: f(jt.zeros((1, 2, 3, 4, 4)), jt.zeros((3, 4, 4)), jt.zeros((3, 4, 4))),
    'decomposed_geometry_attention': lambda f: f(
        jt.zeros((1, 2, 3, 5, 2)), jt.zeros((1, 2, 3, 5, 2)), jt.zeros((1, 3, 5, 4)), jt.zeros((1, 1, 3, 5)),
        jt.zeros((2,)), jt.ones((2, 1, 1, 1))),
}


@pytest.mark.parametrize('name', sorted(FAST_OP_CALLS))
def test_fast_op_rule_equals_the_count_of_its_plain_formulation(name):
    """With the kernels off each op runs its plain Jittor formulation; called unwrapped, the counter
    follows it op by op. Its rule must give the same count, so kernels do not change a model's count."""
    original = getattr(ops, name)
    call = FAST_OP_CALLS[name]
    with ops.fast_ops(False):
        plain = counts(Lambda(lambda: call(original)))
        ruled = counts(Lambda(lambda: call(getattr(ops, name))))  # ops.<name>: the counter's wrapper
    assert ruled == plain and plain[1] > 0


def test_every_public_fast_op_has_a_rule():
    assert uncovered_fast_ops() == []
    for name in ops.__all__:
        value = getattr(ops, name)
        covered_by_class = isinstance(value, type) and issubclass(value, nn.Module)
        assert name in ops.FAST_OPS or name in FAST_OP_HELPERS or covered_by_class, name
    assert set(ops.FAST_OPS) <= set(ops.__all__)  # every declared op is public


def test_a_fast_op_without_a_rule_is_reported_uncounted(monkeypatch):
    def future_op(x):
        return x * 2
    monkeypatch.setattr(ops, 'future_op', future_op, raising=False)
    monkeypatch.setattr(ops, '__all__', list(ops.__all__) + ['future_op'])

    class FutureModule(nn.Module):
        def execute(self, x):
            return x
    FutureModule.__module__ = 'dformer_seg.ops.future'
    assert uncovered_fast_ops() == ['future_op']
    module = FutureModule()
    model = Lambda(lambda x: module(ops.future_op(ops.future_op(x))))
    model.module = module
    report = profile_flops(model, jt.zeros((2, 3)))
    assert report.uncounted == {'future_op': 2, 'FutureModule': 1}
    assert 'NOT counted: FutureModule (1 calls), future_op (2 calls)' in format_report(report)
    assert ops.future_op is future_op  # unwrapped again
    assert profile_flops(SmallNet(), jt.zeros((1, 3, 3, 5))).uncounted == {}


def test_an_argument_a_rule_does_not_know_is_reported(monkeypatch):
    """If a fast op gains an argument (a new fused epilogue, say), calls that use it are listed."""
    original = ops.gelu

    def gelu_with_scale(x, scale=None):
        return original(x) if scale is None else original(x) * scale
    monkeypatch.setattr(ops, 'gelu', gelu_with_scale)
    x = jt.zeros((2, 5))
    report = profile_flops(Lambda(lambda: ops.gelu(x) + ops.gelu(x, scale=2.0)))
    assert report.uncounted == {'gelu(scale=...)': 1}
    assert report.full_flops == 5 * 10 + 5 * 10 + 10  # still counted by the rule as it stands


def test_thop_equivalents_are_found_through_their_declarations():
    class Subclass(V2LayerNorm):  # does not inherit the declaration: it may compute something else
        pass

    model = nn.Sequential(V2LayerNorm(8), HeadAdaptiveAvgPool2d((2, 2)), ChannelsLastLayerNorm(8), Subclass(8))
    module_rules, function_rules = thop_equivalents(model)
    assert set(module_rules) == {V2LayerNorm, HeadAdaptiveAvgPool2d}
    for owner, attr, _ in function_rules:
        assert callable(getattr(owner, attr)), attr
    assert (dformer_v1, 'pool_window_tokens') in {(owner, attr) for owner, attr, _ in function_rules}


# ------------------------------------------------------------ composition
class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.scale = jt.ones((2,))  # a trainable Var outside any thop layer

    def execute(self, x):
        x = self.stem(x)  # (1, 4, 3, 5)
        x = x.permute(0, 2, 3, 1)  # (1, 3, 5, 4)
        attn = nn.softmax(jt.matmul(x, x.transpose(0, 1, 3, 2)), dim=-1)  # (1, 3, 5, 5)
        x = jt.matmul(attn, x)  # (1, 3, 5, 4)
        return self.head(x) * self.scale


def test_composite_model_totals_breakdowns_and_params():
    model = SmallNet()
    report = profile_flops(model, jt.zeros((1, 3, 3, 5)))
    conv, bn, relu = 60 * 27, 4 * 60, 60
    qk, softmax, av = 3 * 5 * 5 * 4, 15 * (5 * 5 - 2), 3 * 5 * 4 * 5
    linear, scale = 30 * 4, 30
    assert report.thop_flops == conv + bn + linear
    assert report.full_flops == conv + (2 * 60 + 5 * 4) + relu + qk + softmax + av + (linear + 30) + scale
    assert report.thop_by_type == {'Conv': conv, 'Linear': linear, 'BatchNorm': bn}
    assert report.full_by_op['matmul'] == qk + av and report.full_by_op['softmax'] == softmax
    assert report.full_by_module['stem.0'] == conv and report.full_by_module['head'] == linear + 30
    assert report.full_by_module[''] == qk + softmax + av + scale
    by_part = flops_by_module(report, depth=1)
    assert by_part['stem'] == (conv + bn, conv + 2 * 60 + 5 * 4 + relu)
    assert by_part['(model)'] == (0, qk + softmax + av + scale)
    # 108 conv + 8 BN affine + 10 linear + 2 scale trainable; BN running stats are not.
    assert report.params.trainable == 128
    assert report.params.non_trainable == 8
    assert report.params.non_trainable_by_name == {'running_mean': 4, 'running_var': 4}
    assert report.thop_params == 126 and report.params_outside_thop == {'': 2}
    text = format_report(report)
    assert 'GFLOPs (thop' in text and 'matmul' in text
    assert count_flops(model, jt.zeros((1, 3, 3, 5)), convention='full') == report.full_flops


def test_module_used_twice_counts_twice_and_params_once():
    linear = nn.Linear(3, 3)
    model = Lambda(lambda x: linear(linear(x)))
    model.linear = linear
    report = profile_flops(model, jt.zeros((2, 3)))
    assert report.thop_flops == 2 * 6 * 3
    assert report.thop_params == 12


def test_frozen_parameters_and_buffers_are_not_trainable():
    model = SmallNet()
    model.head.weight.stop_grad()
    params = count_parameters(model)
    assert params.trainable == 128 - 8 and params.non_trainable == 16
    assert params.non_trainable_by_name['weight'] == 8
    # eval() stops every gradient; the count still reflects the state before it.
    model.eval()
    assert count_parameters(model).trainable == 120


def test_profile_restores_training_mode_and_gradients():
    model = SmallNet()
    profile_flops(model, jt.zeros((1, 3, 3, 5)))
    assert model.is_training()
    assert not model.head.weight.is_stop_grad()
    assert model.stem[1].is_training()


def test_wrapping_is_transparent_and_undone_even_after_errors():
    model = SmallNet()
    x = jt.array(np.random.default_rng(0).standard_normal((1, 3, 3, 5)).astype(np.float32))
    model.eval()
    expected = model(x).numpy()
    originals = (jt.Var.__mul__, jt.Var.__add__, nn.matmul, jt.matmul, nn.softmax, nn.interpolate, jt.sqrt,
                 ops.matmul, ops.depthwise_conv2d_nhwc)
    with FlopCounter(model) as counter:
        got = model(x).numpy()
        assert 'execute' in model.stem[0].__dict__
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert counter.total('thop') > 0
    assert (jt.Var.__mul__, jt.Var.__add__, nn.matmul, jt.matmul, nn.softmax, nn.interpolate, jt.sqrt,
            ops.matmul, ops.depthwise_conv2d_nhwc) == originals
    assert 'execute' not in model.stem[0].__dict__

    def broken(_):
        raise RuntimeError('boom')
    failing = Lambda(broken)
    with pytest.raises(RuntimeError, match='boom'):
        profile_flops(failing, x)
    assert (jt.Var.__mul__, jt.Var.__add__, nn.matmul, jt.matmul, nn.softmax, nn.interpolate, jt.sqrt,
            ops.matmul, ops.depthwise_conv2d_nhwc) == originals
    assert 'execute' not in failing.__dict__


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='convention'):
        count_flops(nn.Linear(2, 2), jt.zeros((1, 2)), convention='flops')
    with pytest.raises(TypeError, match='Module'):
        FlopCounter(lambda x: x)
    with pytest.raises(ValueError, match="interpolation mode 'area'"):
        counts(Lambda(lambda x: nn.interpolate(x, size=(2, 2), mode='area')), jt.zeros((1, 1, 4, 4)))


# -------------------------------------------------- real models vs formulas
def _stage_sizes(height, width):
    """Spatial sizes after the stride-2 stem halves and each stage (3x3 convs, padding 1: ceil(n / 2))."""
    sizes = [(math.ceil(height / 2), math.ceil(width / 2))]
    for _ in range(4):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes  # [half, stride 4, 8, 16, 32]


def _ham_head_thop(in_channels, n1, ham=512, channels=512, num_classes=40):
    squeeze = n1 * ham * sum(in_channels) + 4 * n1 * ham
    hamburger = n1 * ham * ham + (n1 * ham * ham + 4 * n1 * ham)  # ham_in (bias, no norm); NMF is free
    align = n1 * channels * ham + 4 * n1 * channels
    return squeeze + hamburger + align + n1 * num_classes * channels


def dformer_v1_thop(height, width, dims, depths, mlp_ratios=(8, 8, 4, 4), windows=(0, 7, 7, 7)):
    sizes = _stage_sizes(height, width)
    n_half = sizes[0][0] * sizes[0][1]
    n = [h * w for h, w in sizes[1:]]
    c0 = dims[0]
    total = (n_half * (c0 // 2) * 27 + 4 * n_half * c0 // 2 + n[0] * c0 * (c0 // 2) * 9 + 4 * n[0] * c0
             + n_half * (c0 // 4) * 9 + 4 * n_half * c0 // 4 + n[0] * (c0 // 2) * (c0 // 4) * 9
             + 4 * n[0] * c0 // 2)
    for i in range(1, 4):
        for c_in, c_out in ((dims[i - 1], dims[i]), (dims[i - 1] // 2, dims[i] // 2)):
            total += 4 * n[i - 1] * c_in + n[i] * c_out * c_in * 9
    last = (3, depths[3] - 1)
    for i, (c, d, r, window) in enumerate(zip(dims, depths, mlp_ratios, windows)):
        e, size = c // 2, n[i]
        h, w = sizes[i + 1]
        for j in range(d):
            depth_out = (i, j) != last
            block = size * (3 * c * c + c * e + 49 * c + 2 * e * e + 49 * e)  # q, l, a, q_cut, convs, e_fore/back
            if window:
                block += size * c * c  # kv
                block += int(((h / window) * (w / window) + 1) * (3 * e * window * window))  # pooled short cut
                block += window * window * e * 3 * e  # short_cut_linear
                block += size * 2 * c * (c + (e if depth_out else 0))  # proj, proj_e
            else:
                block += size * 3 * e * (c + (e if depth_out else 0))
            for dim in ((c, e) if depth_out else (c,)):  # mlp, mlp_e2
                block += 2 * size * dim * r * dim + 9 * size * r * dim
            total += block
    return total + _ham_head_thop(dims[1:], n[1])


def dformer_v2_thop(height, width, dims, depths, mlp_ratios=(4, 4, 3, 3), channels=512):
    sizes = _stage_sizes(height, width)
    n_half = sizes[0][0] * sizes[0][1]
    n = [h * w for h, w in sizes[1:]]
    c0, half = dims[0], dims[0] // 2
    total = (n_half * half * 27 + 4 * n_half * half + n_half * half * half * 9 + 4 * n_half * half
             + n[0] * c0 * half * 9 + 4 * n[0] * c0 + n[0] * c0 * c0 * 9 + 4 * n[0] * c0)
    for i, (c, d, r) in enumerate(zip(dims, depths, mlp_ratios)):
        f, size = int(r * c), n[i]
        block = size * c * 9 + 8 * size * c + 4 * size * c * c + size * c * 25 + 2 * size * f * c + 9 * size * f
        total += d * block
        if i < 3:
            total += n[i + 1] * dims[i + 1] * c * 9 + 4 * n[i + 1] * dims[i + 1]  # PatchMerging
            total += 4 * n[i + 1] * dims[i + 1]  # extra_norms
    return total + _ham_head_thop(dims[1:], n[1], channels=channels)


def build_segmentor(backbone, dims, channels=512):
    return SEGMENTORS.build(dict(
        type='RGBDEncoderDecoder', backbone=backbone,
        decode_head=dict(type='LightHamHead', in_channels=list(dims[1:]), in_index=[1, 2, 3], channels=channels,
                         ham_channels=512, num_classes=40, norm_cfg=dict(type='BN', eps=1e-3))))


def segmentor_report(model, height, width):
    batch = dict(img=jt.zeros((1, 3, height, width)), depth=jt.zeros((1, 1, height, width)))
    return profile_flops(model, batch, forward=lambda b: model(b, mode='tensor'))


@pytest.mark.parametrize('shape', [(64, 96), (75, 103), (480, 640)])
def test_dformer_tiny_thop_count_matches_the_architecture_formula(shape):
    dims, depths = (32, 64, 128, 256), (3, 3, 5, 2)
    model = build_segmentor(dict(type='DFormer', arch='tiny'), dims)
    report = segmentor_report(model, *shape)
    assert report.thop_flops == dformer_v1_thop(*shape, dims, depths)
    assert report.full_flops > report.thop_flops
    assert report.uncounted == {}  # every fast op the model calls has a rule
    if shape == (480, 640):
        assert report.thop_flops == pytest.approx(11.75e9, rel=0.01)  # the published DFormer-T number
        assert report.params.trainable == pytest.approx(6.0e6, rel=0.01)


@pytest.mark.parametrize('shape', [(64, 96), (480, 640)])
def test_dformerv2_s_thop_count_matches_the_architecture_formula(shape):
    dims, depths = (64, 128, 256, 512), (3, 4, 18, 4)
    model = build_segmentor(dict(type='DFormerv2', arch='S'), dims)
    report = segmentor_report(model, *shape)
    assert report.thop_flops == dformer_v2_thop(*shape, dims, depths)
    # Geo buffers are fixed, not trained.
    assert report.params.non_trainable_by_name['angle'] > 0 and report.params.non_trainable_by_name['decay'] > 0
    # thop sees every parameter (the depth-wise convs' included) but the 2 prior mixing weights per block.
    assert report.params_outside_thop == {f'backbone.layers.{i}.blocks.{j}.Geo': 2
                                          for i, depth in enumerate(depths) for j in range(depth)}
    assert report.uncounted == {}
    if shape == (480, 640):
        assert report.thop_flops == pytest.approx(33.85e9, rel=0.01)
        assert report.params.trainable == pytest.approx(26.7e6, rel=0.01)


def test_full_count_includes_the_nmf_iterations():
    """The NMF of the head is pure matmul work: 7 eval steps each add a fixed, hand-computable amount."""
    dims = (32, 64, 128, 256)
    model = build_segmentor(dict(type='DFormer', arch='tiny'), dims)
    height, width = 64, 96
    n1 = _stage_sizes(height, width)[2][0] * _stage_sizes(height, width)[2][1]
    base = segmentor_report(model, height, width).full_by_op['matmul']
    model.decode_head.hamburger.ham.eval_steps = 8
    more = segmentor_report(model, height, width).full_by_op['matmul']
    d, r = 512, 64
    # one step: x^T bases, bases^T bases, coef @ (R x R), x @ coef, coef^T coef, bases @ (R x R)
    step = n1 * r * d + r * r * d + n1 * r * r + d * r * n1 + r * r * n1 + d * r * r
    assert more - base == step
