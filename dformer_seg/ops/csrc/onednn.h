// oneDNN for the kernels that need it: the C API (dnnl_sgemm) and the C++ primitives, plus a small cache
// of built primitives (building one generates its JIT code, so each is kept for its shape).
#pragma once
#include "common.h"
#include <array>
#include <map>
#include <unordered_map>
#include <dnnl.h>
#include <dnnl.hpp>

namespace dformer_seg {

// Built primitives by key. A compiled op keeps its own cache (a static in its kernel function); a model
// with many input sizes would grow it without bound, so it is emptied when it reaches `capacity`.
template <typename Key, typename Value, size_t capacity = 64>
class PrimitiveCache {
  public:
    template <typename Build>
    Value& get(const Key& key, Build build) {
        auto found = entries_.find(key);
        if (found == entries_.end()) {
            if (entries_.size() >= capacity) entries_.clear();
            found = entries_.emplace(key, build()).first;
        }
        return found->second;
    }

  private:
    std::map<Key, Value> entries_;
};

static inline const dnnl::engine& cpu_engine() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

}  // namespace dformer_seg
