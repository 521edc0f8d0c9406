// Pieces shared by the dformer_seg CPU kernels. Each kernel file includes this one.
//
// Entry points are declared with DFORMER_SEG_KERNEL: `static inline` inside a Jittor kernel (one
// translation unit per compiled op), empty for the stand-alone compile checks of the test suite, so
// that every function is emitted and compiled for the target being checked.
#pragma once
#ifndef DFORMER_SEG_KERNEL
#define DFORMER_SEG_KERNEL static inline
#endif

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <omp.h>

namespace dformer_seg {

// Softmax of one row of n values, in place (max-subtracted, like PyTorch).
static inline void softmax_row(float* row, long n) {
    float top = -FLT_MAX;
    for (long c = 0; c < n; c++) top = row[c] > top ? row[c] : top;
    float total = 0.0f;
    for (long c = 0; c < n; c++) {
        row[c] = expf(row[c] - top);
        total += row[c];
    }
    for (long c = 0; c < n; c++) row[c] = row[c] / total;
}

// Column sums of per-thread partial sums: each OpenMP thread accumulates into its own `width`-long
// slice of `partial` (no races, no atomics), then `total` adds the slices up.
template <typename T>
struct BasicThreadPartials {
    explicit BasicThreadPartials(size_t width_)
        : width(width_), threads(omp_get_max_threads()), partial(width_ * threads, T(0)) {}
    T* mine() { return partial.data() + width * omp_get_thread_num(); }
    T total(size_t column) const {
        T sum = T(0);
        for (int t = 0; t < threads; t++) sum += partial[width * t + column];
        return sum;
    }
    size_t width;
    int threads;
    std::vector<T> partial;
};
using ThreadPartials = BasicThreadPartials<float>;
using ThreadPartialsDouble = BasicThreadPartials<double>;  // for a few sums over many terms

}  // namespace dformer_seg
