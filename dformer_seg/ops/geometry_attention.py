"""DFormerv2's decomposed geometry attention on channels-last tensors.

Within every head, attention runs along W in each row, then along H in each
column of the row result. Each direction adds a geometry prior built from
the head's decay ``g`` and the mixing weights ``(a, b)``::

    prior[i, j] = a * (|i - j| * g) + b * (|d_i - d_j| * g)

with ``d`` the (resized) depth along that row or column.

q and k come heads-first (B, heads, H, W, d), as the rotary code leaves
them; v and the result are channels-last (B, H, W, C). The composed form
moves v to heads-first, builds both priors as (B, heads, rows, L, L) tensors
and runs :func:`attention` twice; it is used whenever a gradient is needed
(and off the CPU). Without gradients one kernel does everything in place:
its GEMMs read every row or column straight from memory with a stride (no
transposes), the prior is written into each score buffer before the GEMM
adds ``q k^T`` (no prior tensors), and the result is written channels-last.
"""
import jittor as jt

from .attention import attention
from .dispatch import needs_grad, use_cpu_kernels

_HEADER = ('#include <dnnl.h>\n#include <omp.h>\n#include <vector>\n#include <algorithm>\n'
           '#include <cfloat>\n#include <cmath>\n')

# in0, in1: q, k (B, heads, H, W, d); in2 v (B, H, W, C); in3 depth (B, 1, H, W); in4 decay (heads,);
# in5 weight (2, 1, 1, 1). out0 (B, H, W, C).
_KERNEL_SRC = '''
    // fastop_geometry_attention
    @alias(q, in0) @alias(k, in1) @alias(v, in2) @alias(depth, in3) @alias(decay, in4) @alias(weight, in5)
    const int batch = q_shape0, heads = q_shape1, height = q_shape2, width = q_shape3, head_dim = q_shape4;
    const int channels = heads * head_dim;
    const float position_weight = weight_p[0], depth_weight = weight_p[1];
    const long image = (long)height * width * channels;
    std::vector<float> rows_out((size_t)batch * image);  // result of the row pass

    // One attention along a line of `length` positions: q and k rows `qk_stride` floats apart, v and out
    // rows `stride` apart; `depth_line` points at the line's depths, `depth_step` apart.
    auto attend = [&](const float* q_line, const float* k_line, long qk_stride, const float* v_line,
                      float* out_line, long stride, int length, const float* depth_line, int depth_step,
                      float head_decay, float* scores) {
        for (int i = 0; i < length; i++) {
            const float di = depth_line[(long)i * depth_step];
            float* row = scores + (size_t)i * length;
            for (int j = 0; j < length; j++) {
                const float distance = (float)(i > j ? i - j : j - i);
                const float depth_gap = fabsf(di - depth_line[(long)j * depth_step]);
                row[j] = position_weight * (distance * head_decay) + depth_weight * (depth_gap * head_decay);
            }
        }
        dnnl_sgemm('N', 'T', length, length, head_dim, 1.0f, q_line, qk_stride, k_line, qk_stride, 1.0f, scores,
                   length);
        for (int i = 0; i < length; i++) {
            float* row = scores + (size_t)i * length;
            float top = -FLT_MAX;
            for (int j = 0; j < length; j++) top = row[j] > top ? row[j] : top;
            float total = 0.0f;
            for (int j = 0; j < length; j++) { row[j] = expf(row[j] - top); total += row[j]; }
            for (int j = 0; j < length; j++) row[j] = row[j] / total;
        }
        dnnl_sgemm('N', 'N', length, head_dim, length, 1.0f, scores, length, v_line, stride, 0.0f, out_line, stride);
    };

    #pragma omp parallel
    {
        std::vector<float> scores((size_t)std::max(height, width) * std::max(height, width));
        // Along W: one entry per (image, row, head).
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int r = 0; r < height; r++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height + r) * width * head_dim;
                    const long offset = n * image + (long)r * width * channels + (long)h * head_dim;
                    attend(q_p + qk, k_p + qk, head_dim, v_p + offset, rows_out.data() + offset, channels, width,
                           depth_p + ((long)n * height + r) * width, 1, decay_p[h], scores.data());
                }
        // Along H, on the row results: one entry per (image, column, head). The loop ends in a barrier.
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < width; c++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height * width + c) * head_dim;
                    const long offset = n * image + (long)c * channels + (long)h * head_dim;
                    attend(q_p + qk, k_p + qk, (long)width * head_dim, rows_out.data() + offset, out0_p + offset,
                           (long)width * channels, height, depth_p + (long)n * height * width + c, width,
                           decay_p[h], scores.data());
                }
    }
'''


def axis_prior(depth_lines, decay, weight):
    """The prior along the last axis of ``depth_lines`` (B, 1, lines, L): (B, heads, lines, L, L)."""
    length = depth_lines.shape[-1]
    index = jt.arange(length).float32()
    distance = (index.reshape(-1, 1) - index.reshape(1, -1)).abs()
    position_term = (distance * decay.reshape(-1, 1, 1)).unsqueeze(0).unsqueeze(2)  # (1, heads, 1, L, L)
    depth_gap = (depth_lines.unsqueeze(-1) - depth_lines.unsqueeze(-2)).abs()  # (B, 1, lines, L, L)
    return weight[0] * position_term + weight[1] * (depth_gap * decay.reshape(-1, 1, 1, 1))


def _composed(q, k, v, depth, decay, weight):
    batch, heads, height, width, head_dim = q.shape
    v = v.reshape(batch, height, width, heads, head_dim).permute(0, 3, 1, 2, 4)  # (B, heads, H, W, d)
    rows = attention(q, k, v, axis_prior(depth, decay, weight))
    by_column = (0, 1, 3, 2, 4)  # (B, heads, W, H, d)
    columns = attention(q.permute(by_column), k.permute(by_column), rows.permute(by_column),
                        axis_prior(depth.transpose(0, 1, 3, 2), decay, weight))
    return columns.permute(0, 3, 2, 1, 4).reshape(batch, height, width, heads * head_dim)


def decomposed_geometry_attention(q, k, v, depth, decay, weight):
    """Row-then-column geometry attention; q, k (B, heads, H, W, d), v (B, H, W, heads * d).

    ``depth`` (B, 1, H, W) is the depth at the feature resolution, ``decay``
    (heads,) and ``weight`` (2, 1, 1, 1) the prior's parameters; q and k are
    used as given (rotated and scaled beforehand). Returns (B, H, W, C).
    """
    if q.ndim != 5 or tuple(k.shape) != tuple(q.shape):
        raise ValueError(f'decomposed_geometry_attention: q and k must share one (B, heads, H, W, d) shape, got '
                         f'{tuple(q.shape)} and {tuple(k.shape)}')
    batch, heads, height, width, head_dim = q.shape
    if tuple(v.shape) != (batch, height, width, heads * head_dim):
        raise ValueError(f'decomposed_geometry_attention: v must be {(batch, height, width, heads * head_dim)}, '
                         f'got {tuple(v.shape)}')
    if tuple(depth.shape) != (batch, 1, height, width):
        raise ValueError(f'decomposed_geometry_attention: depth must be {(batch, 1, height, width)}, '
                         f'got {tuple(depth.shape)}')
    if tuple(decay.shape) != (heads,) or weight.numel() != 2:
        raise ValueError(f'decomposed_geometry_attention: decay must be ({heads},) and weight hold 2 values, '
                         f'got {tuple(decay.shape)} and {tuple(weight.shape)}')
    operands = [q, k, v, depth, decay, weight]
    if needs_grad(*operands) or not use_cpu_kernels(*operands, needs_onednn=True):
        return _composed(q, k, v, depth, decay, weight)
    return jt.code(v.shape, 'float32', operands, cpu_header=_HEADER, cpu_src=_KERNEL_SRC)
