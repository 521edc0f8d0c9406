// Inference attention softmax(q k^T + bias) v with the scores kept in cache: per batch entry, the scores
// go into a private buffer (seeded with the bias, so that the GEMM adds it), the softmax runs in place,
// then the product with v; the (batch, lq, lk) score tensor never reaches memory.
#pragma once
#include "bf16.h"
#include "onednn.h"
#include <cstring>

namespace dformer_seg {

// q (batch, lq, d), k (batch, lk, d), v (batch, lk, dv), bias (batch, lq, lk) or null -> out (batch, lq, dv).
DFORMER_SEG_KERNEL void attention_forward(const float* q, const float* k, const float* v, const float* bias,
                                          float* out, long batch, int lq, int lk, int d, int dv) {
    const size_t score_size = (size_t)lq * lk;
    auto one_entry = [&](long b, float* scores, bool nested) {
        if (bias) std::memcpy(scores, bias + b * score_size, score_size * sizeof(float));
        dnnl_sgemm('N', 'T', lq, lk, d, 1.0f, q + b * lq * d, d, k + b * lk * d, d, bias ? 1.0f : 0.0f, scores, lk);
        if (nested) {
            #pragma omp parallel for schedule(static)
            for (int row = 0; row < lq; row++) softmax_row(scores + (size_t)row * lk, lk);
        } else {
            for (int row = 0; row < lq; row++) softmax_row(scores + (size_t)row * lk, lk);
        }
        dnnl_sgemm('N', 'N', lq, dv, lk, 1.0f, scores, lk, v + b * lk * dv, dv, 0.0f, out + b * lq * dv, dv);
    };
    if (batch >= omp_get_max_threads()) {
        #pragma omp parallel
        {
            std::vector<float> scores(score_size);
            #pragma omp for schedule(static)
            for (long b = 0; b < batch; b++) one_entry(b, scores.data(), false);
        }
    } else {
        // Few entries: one at a time, threads inside the GEMMs and the softmax.
        std::vector<float> scores(score_size);
        for (long b = 0; b < batch; b++) one_entry(b, scores.data(), true);
    }
}

// ---- bf16 (inference): both products are oneDNN bf16 matmuls with float32 accumulation; the scores, the bias and
// the softmax stay float32, and the probabilities are rounded to bf16 for the product with v.

struct Bf16AttentionPrimitives {
    dnnl::matmul scores, output;
    size_t scratchpad_bytes;  // the larger of the two primitives' scratchpads (each thread brings its own)
};

// q (batch, lq, d), k (batch, lk, d), v (batch, lk, dv), bias (batch, lq, lk) or null -> out (batch, lq, dv).
DFORMER_SEG_KERNEL void attention_forward_bf16(const float* q, const float* k, const float* v, const float* bias,
                                               float* out, long batch, int lq, int lk, int d, int dv) {
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto bf16 = memory::data_type::bf16, f32 = memory::data_type::f32;
    const memory::desc q_md({lq, d}, bf16, tag::ab), k_md({d, lk}, bf16, tag::ba), v_md({lk, dv}, bf16, tag::ab);
    const memory::desc scores_md({lq, lk}, f32, tag::ab), probs_md({lq, lk}, bf16, tag::ab);
    const memory::desc out_md({lq, dv}, f32, tag::ab);
    static PrimitiveCache<std::array<memory::dim, 5>, Bf16AttentionPrimitives> cache;
    const Bf16AttentionPrimitives& prims = cache.get({lq, lk, d, dv, bias != nullptr}, [&] {
        // User scratchpads: the primitives run on several threads at once, each with its own.
        primitive_attr attr, scores_attr;  // (separate objects: a copy of a primitive_attr shares its state)
        attr.set_scratchpad_mode(scratchpad_mode::user);
        scores_attr.set_scratchpad_mode(scratchpad_mode::user);
        if (bias) {
            post_ops add_bias;
            add_bias.append_binary(algorithm::binary_add, scores_md);
            scores_attr.set_post_ops(add_bias);
        }
        const matmul::primitive_desc scores_pd(matmul::desc(q_md, k_md, scores_md), scores_attr, cpu_engine());
        const matmul::primitive_desc output_pd(matmul::desc(probs_md, v_md, out_md), attr, cpu_engine());
        return Bf16AttentionPrimitives{matmul(scores_pd), matmul(output_pd),
                                       std::max({scores_pd.scratchpad_desc().get_size(),
                                                 output_pd.scratchpad_desc().get_size(), (size_t)1})};
    });
    static Bf16Scratch q_scratch, k_scratch, v_scratch;
    uint16_t* q16 = q_scratch.get((size_t)batch * lq * d);
    uint16_t* k16 = k_scratch.get((size_t)batch * lk * d);
    uint16_t* v16 = v_scratch.get((size_t)batch * lk * dv);
    convert_to_bf16(q, q16, batch * lq * d);
    convert_to_bf16(k, k16, batch * lk * d);
    convert_to_bf16(v, v16, batch * lk * dv);
    const size_t score_size = (size_t)lq * lk;
    const memory::desc scratchpad_md({(memory::dim)prims.scratchpad_bytes}, memory::data_type::u8, tag::x);
    auto one_entry = [&](long b, float* scores, uint16_t* probs, memory& scratchpad, bool nested) {
        stream strm(cpu_engine());
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, memory(q_md, cpu_engine(), q16 + b * lq * d)},
            {DNNL_ARG_WEIGHTS, memory(k_md, cpu_engine(), k16 + b * lk * d)},
            {DNNL_ARG_DST, memory(scores_md, cpu_engine(), scores)},
            {DNNL_ARG_SCRATCHPAD, scratchpad}};
        if (bias)
            args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] =
                memory(scores_md, cpu_engine(), (void*)(bias + b * score_size));
        prims.scores.execute(strm, args);
        strm.wait();
        auto normalise = [&](int row) {
            float* line = scores + (size_t)row * lk;
            softmax_row(line, lk);
            convert_to_bf16(line, probs + (size_t)row * lk, lk, false);
        };
        if (nested) {
            #pragma omp parallel for schedule(static)
            for (int row = 0; row < lq; row++) normalise(row);
        } else {
            for (int row = 0; row < lq; row++) normalise(row);
        }
        prims.output.execute(strm, {{DNNL_ARG_SRC, memory(probs_md, cpu_engine(), probs)},
                                    {DNNL_ARG_WEIGHTS, memory(v_md, cpu_engine(), v16 + b * lk * dv)},
                                    {DNNL_ARG_DST, memory(out_md, cpu_engine(), out + b * lq * dv)},
                                    {DNNL_ARG_SCRATCHPAD, scratchpad}});
        strm.wait();
    };
    auto run_entries = [&](long first, long step, bool nested) {
        std::vector<float> scores(score_size);
        std::vector<uint16_t> probs(score_size);
        memory scratchpad(scratchpad_md, cpu_engine());
        for (long b = first; b < batch; b += step) one_entry(b, scores.data(), probs.data(), scratchpad, nested);
    };
    if (batch >= omp_get_max_threads()) {
        #pragma omp parallel
        run_entries(omp_get_thread_num(), omp_get_num_threads(), false);
    } else {
        run_entries(0, 1, true);  // few entries: one at a time, threads inside the GEMMs and the softmax
    }
}

}  // namespace dformer_seg
