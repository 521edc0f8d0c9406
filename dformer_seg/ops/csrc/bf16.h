// bfloat16 for inference: float32 -> bf16 conversion (round to nearest even, as oneDNN and PyTorch round) and a
// per-thread scratch buffer for the bf16 copy of an activation. The GEMMs themselves are oneDNN primitives with
// bf16 sources, float32 accumulation and float32 results.
#pragma once
#include "onednn.h"
#include <cstring>

namespace dformer_seg {

// bf16 bits of one float: the upper half, rounded to nearest even; a NaN stays a (quiet) NaN.
static inline uint16_t bf16_bits(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(bits));
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Converts n floats; one pass split over the threads (or over the calling thread when `parallel` is false).
static inline void convert_to_bf16(const float* in, uint16_t* out, long n, bool parallel = true) {
    if (parallel) {
        #pragma omp parallel for simd schedule(static)
        for (long i = 0; i < n; i++) out[i] = bf16_bits(in[i]);
    } else {
        #pragma omp simd
        for (long i = 0; i < n; i++) out[i] = bf16_bits(in[i]);
    }
}

DFORMER_SEG_KERNEL void to_bf16(const float* in, uint16_t* out, long n) { convert_to_bf16(in, out, n); }

// A growing buffer for the bf16 copy of an activation; each kernel keeps its own (a static), so that a forward
// pass allocates it once per kernel rather than once per call.
class Bf16Scratch {
  public:
    uint16_t* get(size_t n) {
        if (buffer_.size() < n) buffer_.resize(n);
        return buffer_.data();
    }

  private:
    std::vector<uint16_t> buffer_;
};

}  // namespace dformer_seg
