"""numpy references of the fast ops (float64 where it matters), shared by the op tests."""
import math

import numpy as np


def numpy_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_attention(q, k, v, bias):
    scores = q @ np.swapaxes(k, -1, -2) + (0 if bias is None else bias)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def reference_conv(x, weight, bias, stride, padding):
    """NHWC conv in numpy (float64), PyTorch weight layout."""
    n, h, w, _ = x.shape
    out_ch, _, kh, kw = weight.shape
    padded = np.pad(x.astype(np.float64), ((0, 0), (padding[0],) * 2, (padding[1],) * 2, (0, 0)))
    out_h = (h + 2 * padding[0] - kh) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kw) // stride[1] + 1
    out = np.zeros((n, out_h, out_w, out_ch)) + (0 if bias is None else bias)
    for u in range(kh):
        for v in range(kw):
            window = padded[:, u:u + stride[0] * out_h:stride[0], v:v + stride[1] * out_w:stride[1], :]
            out += window @ weight[:, :, u, v].T.astype(np.float64)
    return out


def numpy_depthwise_nhwc(x, weight, bias, pad):
    n, h, w, c = x.shape
    kh, kw = weight.shape[2:]
    padded = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    out_h, out_w = h + 2 * pad[0] - kh + 1, w + 2 * pad[1] - kw + 1
    out = np.zeros((n, out_h, out_w, c), dtype=np.float64)
    for u in range(kh):
        for v in range(kw):
            out += padded[:, u:u + out_h, v:v + out_w, :] * weight[:, 0, u, v]
    return (out + (0 if bias is None else bias)).astype(np.float32)


def numpy_axis_prior(depth_lines, decay, weight):
    """depth_lines (B, lines, L), decay (heads,), weight (2,) -> (B, heads, lines, L, L)."""
    length = depth_lines.shape[-1]
    distance = np.abs(np.arange(length)[:, None] - np.arange(length)[None, :]).astype(np.float32)
    gap = np.abs(depth_lines[:, :, :, None] - depth_lines[:, :, None, :])  # (B, lines, L, L)
    return (weight[0] * distance[None, None, None] * decay[None, :, None, None, None]
            + weight[1] * gap[:, None] * decay[None, :, None, None, None])


def numpy_axis_attention(q, k, v, depth_lines, decay, weight):
    """q, k, v (B, heads, lines, L, d); depth_lines (B, lines, L)."""
    scores = q @ np.swapaxes(k, -1, -2) + numpy_axis_prior(depth_lines, decay, weight)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def numpy_decomposed(q, k, v, depth, decay, weight):
    batch, heads, height, width, head_dim = q.shape
    v = v.reshape(batch, height, width, heads, head_dim).transpose(0, 3, 1, 2, 4)
    rows = numpy_axis_attention(q, k, v, depth[:, 0], decay, weight)
    cols = numpy_axis_attention(q.transpose(0, 1, 3, 2, 4), k.transpose(0, 1, 3, 2, 4), rows.transpose(0, 1, 3, 2, 4),
                                depth[:, 0].transpose(0, 2, 1), decay, weight)  # (B, heads, W, H, d)
    return cols.transpose(0, 3, 2, 1, 4).reshape(batch, height, width, heads * head_dim)


def torch_bilinear(x, size, align_corners):
    """Reference: PyTorch's upsample_bilinear2d index and weight rules, in numpy."""
    def axis(in_size, out_size):
        if align_corners:
            scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
            src = scale * np.arange(out_size, dtype=np.float32)
        else:
            src = np.maximum((np.arange(out_size, dtype=np.float32) + 0.5) * (in_size / out_size) - 0.5, 0)
        low = np.minimum(src.astype(np.int64), in_size - 1)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, (src - low).astype(np.float32)

    y0, y1, fy = axis(x.shape[2], size[0])
    x0, x1, fx = axis(x.shape[3], size[1])
    fy, fx = fy[:, None], fx[None, :]
    top = x[:, :, y0][:, :, :, x0] * (1 - fx) + x[:, :, y0][:, :, :, x1] * fx
    bottom = x[:, :, y1][:, :, :, x0] * (1 - fx) + x[:, :, y1][:, :, :, x1] * fx
    return top * (1 - fy) + bottom * fy


def numpy_rotary(x, sin, cos):
    rotated = np.stack([-x[..., 1::2], x[..., 0::2]], axis=-1).reshape(x.shape)
    return x * cos + rotated * sin


def numpy_gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x.astype(np.float64) / math.sqrt(2.0)))


def numpy_layer_norm(x, weight, bias, eps):
    x = x.astype(np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def numpy_matmul(a, b, trans_a=False, trans_b=False):
    a = np.swapaxes(a, -1, -2) if trans_a else a
    b = np.swapaxes(b, -1, -2) if trans_b else b
    return a.astype(np.float64) @ b.astype(np.float64)


def numpy_pointwise_conv(x, weight, bias=None):
    out = np.einsum('oi,nihw->nohw', weight[:, :, 0, 0].astype(np.float64), x.astype(np.float64))
    return out if bias is None else out + bias[None, :, None, None]


def numpy_linear(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    y = x.astype(np.float64) @ weight.T.astype(np.float64) + (0 if bias is None else bias)
    y = numpy_gelu(y) if activation == 'gelu' else y
    y = y if multiplier is None else y * multiplier
    return y if residual is None else y + residual


def numpy_softmax_cross_entropy(logits, label, ignore_index=None):
    """-log softmax(logits, axis=1)[label] per pixel, in float64; 0 where label == ignore_index."""
    x = logits.astype(np.float64)
    log_prob = x - x.max(axis=1, keepdims=True)
    log_prob = log_prob - np.log(np.exp(log_prob).sum(axis=1, keepdims=True))
    valid = np.ones(label.shape, bool) if ignore_index is None else label != ignore_index
    picked = np.take_along_axis(log_prob, np.where(valid, label, 0)[:, None], axis=1)[:, 0]
    return np.where(valid, -picked, 0.0)


def numpy_adamw_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step):
    """AdamW (decoupled weight decay, bias-corrected moments) in float64: new (param, exp_avg, exp_avg_sq)."""
    param, grad = param.astype(np.float64), grad.astype(np.float64)
    exp_avg = beta1 * exp_avg.astype(np.float64) + (1 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq.astype(np.float64) + (1 - beta2) * grad * grad
    denom = np.sqrt(exp_avg_sq) / np.sqrt(1 - beta2 ** step) + eps
    return param * (1 - lr * weight_decay) - lr / (1 - beta1 ** step) * exp_avg / denom, exp_avg, exp_avg_sq


def numpy_batch_norm_train(x, weight, bias, eps):
    """BatchNorm with the batch's statistics (biased variance) in float64: (y, mean, var)."""
    x64 = x.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    mean, var = x64.mean(axis=axes), x64.var(axis=axes)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = (x64 - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * weight.reshape(shape) + bias.reshape(shape)
    return y, mean, var
