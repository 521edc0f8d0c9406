"""Dense 2-D convolution of channels-last (N, H, W, C) tensors (DFormer's downsampling convs).

DFormer keeps its blocks channels-last, but ``nn.Conv2d`` wants NCHW, so each
downsampling conv between stages costs two transposes, and Jittor's oneDNN
relay reorders input and output to a blocked layout on every call as well.
Here a oneDNN convolution primitive reads and writes NHWC memory directly
(only the small weight is reordered per call); the primitive is built once
per shape and kept. Gradients come from the plain formulation (transposes
around ``nn.conv2d``), which is also what runs off the CPU kernels.
"""
import jittor as jt
from jittor import nn

from .dispatch import needs_grad, use_cpu_kernels

_HEADER = '#include <array>\n#include <map>\n#include <unordered_map>\n#include <dnnl.hpp>\n'

# in0 x (N, H, W, C_in), in1 weight (C_out, C_in, kh, kw) [, in2 bias (C_out,)] -> out0 (N, OH, OW, C_out).
_FORWARD_SRC = '''
    // fastop_conv_nhwc
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto f32 = memory::data_type::f32;
    const memory::dim batch = in0_shape0, in_h = in0_shape1, in_w = in0_shape2, in_ch = in0_shape3;
    const memory::dim out_h = out0_shape1, out_w = out0_shape2, out_ch = in1_shape0;
    const memory::dim kh = in1_shape2, kw = in1_shape3;
    const memory::dim stride_h = data["stride_h"], stride_w = data["stride_w"];
    const memory::dim pad_h = data["pad_h"], pad_w = data["pad_w"];
    const memory::desc x_md({{batch, in_ch, in_h, in_w}}, f32, tag::nhwc);
    const memory::desc out_md({{batch, out_ch, out_h, out_w}}, f32, tag::nhwc);
    const memory::desc weight_md({{out_ch, in_ch, kh, kw}}, f32, tag::oihw);
    const memory::desc bias_md({{out_ch}}, f32, tag::x);
    static const engine cpu(engine::kind::cpu, 0);
    // The primitive picks its own weight layout; the (small) weight is reordered into it on each call.
    struct Prepared {{ convolution_forward conv; reorder to_blocked; memory::desc blocked_md; }};
    static std::map<std::array<memory::dim, 11>, Prepared> prepared;
    const std::array<memory::dim, 11> key{{batch, in_h, in_w, in_ch, out_ch, kh, kw, stride_h, stride_w,
                                          pad_h, pad_w}};
    auto found = prepared.find(key);
    if (found == prepared.end()) {{
        if (prepared.size() >= 64) prepared.clear();
        const memory::desc any_weight_md({{out_ch, in_ch, kh, kw}}, f32, tag::any);
        const convolution_forward::desc desc(prop_kind::forward_inference, algorithm::convolution_direct,
                                             x_md, any_weight_md, {bias_desc}out_md, {{stride_h, stride_w}},
                                             {{pad_h, pad_w}}, {{pad_h, pad_w}});
        const convolution_forward::primitive_desc pd(desc, cpu);
        const reorder::primitive_desc reorder_pd(cpu, weight_md, cpu, pd.weights_desc());
        found = prepared.emplace(key, Prepared{{convolution_forward(pd), reorder(reorder_pd),
                                                pd.weights_desc()}}).first;
    }}
    stream strm(cpu);
    memory weight(weight_md, cpu, (void*)in1_p);
    memory blocked(found->second.blocked_md, cpu);
    found->second.to_blocked.execute(strm, weight, blocked);
    std::unordered_map<int, memory> args{{
        {{DNNL_ARG_SRC, memory(x_md, cpu, (void*)in0_p)}},
        {{DNNL_ARG_WEIGHTS, blocked}},
        {{DNNL_ARG_DST, memory(out_md, cpu, (void*)out0_p)}}}};
    {bias_arg}
    found->second.conv.execute(strm, args);
    strm.wait();
'''


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 0:
        raise ValueError(f'conv2d_nhwc: {name} must be a non-negative int or pair, got {value!r}')
    return pair


def conv2d_nhwc(x, weight, bias=None, stride=1, padding=0):
    """Dense conv (one group, no dilation) of ``x`` (N, H, W, C_in) with ``weight`` (C_out, C_in, kh, kw).

    Returns (N, OH, OW, C_out), the NHWC form of ``nn.conv2d`` on the NCHW
    tensors (zero padding, PyTorch's weight layout).
    """
    if x.ndim != 4:
        raise ValueError(f'conv2d_nhwc expects an (N, H, W, C) tensor, got shape {tuple(x.shape)}')
    if weight.ndim != 4 or weight.shape[1] != x.shape[3]:
        raise ValueError(f'conv2d_nhwc: weight must be (C_out, {x.shape[3]}, kh, kw) for {x.shape[3]} input '
                         f'channels, got {tuple(weight.shape)}')
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f'conv2d_nhwc: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}')
    stride, padding = _pair(stride, 'stride'), _pair(padding, 'padding')
    if min(stride) < 1:
        raise ValueError(f'conv2d_nhwc: stride must be positive, got {stride}')
    out_hw = tuple((x.shape[1 + i] + 2 * padding[i] - weight.shape[2 + i]) // stride[i] + 1 for i in range(2))
    if min(out_hw) < 1:
        raise ValueError(f'conv2d_nhwc: input {tuple(x.shape[1:3])} is smaller than the kernel '
                         f'{tuple(weight.shape[2:])} with padding {padding}')
    operands = [x, weight] if bias is None else [x, weight, bias]
    if needs_grad(*operands) or not use_cpu_kernels(*operands, needs_onednn=True):
        y = nn.conv2d(x.permute(0, 3, 1, 2), weight, bias, stride=stride, padding=padding)
        return y.permute(0, 2, 3, 1)
    src = _FORWARD_SRC.format(bias_desc='bias_md, ' if bias is not None else '',
                              bias_arg='args[DNNL_ARG_BIAS] = memory(bias_md, cpu, (void*)in2_p);'
                              if bias is not None else '')
    return jt.code((x.shape[0],) + out_hw + (weight.shape[0],), 'float32', operands, cpu_header=_HEADER,
                   cpu_src=src, data=dict(stride_h=stride[0], stride_w=stride[1], pad_h=padding[0],
                                          pad_w=padding[1]))
