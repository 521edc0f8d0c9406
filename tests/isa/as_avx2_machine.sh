#!/usr/bin/env bash
# Run a command as on an x86 machine with AVX2 + FMA but no AVX-512, on an AVX-512 host.
#
#   bash tests/isa/as_avx2_machine.sh bash tools/run_tests.sh
#   AVX2_HOME=/tmp/avx2home bash tests/isa/as_avx2_machine.sh bash .ci/run
#
# tests/isa/hide_avx512.c (built here, loaded with LD_PRELOAD) hides the AVX-512 and AMX feature bits from the CPUID
# instruction in the command and everything it starts, so every runtime choice is the one an AVX2-only machine makes:
# `g++ -march=native` (Jittor's and the fast ops' kernels), oneDNN's JIT kernels, numpy's and PyTorch's dispatch.
# The command runs with HOME=$AVX2_HOME (default ~/.cache/dformer-seg/avx2-home): Jittor's compile cache keys say
# "-march=native", not what it resolved to, so the AVX2 builds must not share the host's cache. /proc/cpuinfo still
# lists avx512f; ask the compiler (`g++ -march=native -dM -E - </dev/null`) what the machine looks like.
# Needs CPUID faulting (x86 Linux >= 4.12 on a CPU or hypervisor that offers it: `grep cpuid_fault /proc/cpuinfo`).
set -euo pipefail
if [ "$#" -eq 0 ]; then
    echo "usage: bash tests/isa/as_avx2_machine.sh COMMAND [ARGS...]" >&2
    exit 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CC="${CC:-gcc}"
native_macros="$("$CC" -march=native -dM -E -x c /dev/null)"
native_has() { grep -q "#define $1 " <<<"$native_macros"; }

case "$(uname -m)" in x86_64|amd64) ;; *) echo "as_avx2_machine.sh: not an x86 host" >&2; exit 2 ;; esac
if ! native_has __AVX512F__; then
    echo "as_avx2_machine.sh: this host has no AVX-512 already; running the command as it is" >&2
    exec "$@"
fi
if ! native_has __AVX2__; then
    echo "as_avx2_machine.sh: this host has no AVX2 either; it cannot stand in for an AVX2 machine" >&2
    exit 2
fi

AVX2_HOME="${AVX2_HOME:-$HOME/.cache/dformer-seg/avx2-home}"
lib_dir="$AVX2_HOME/.cache/dformer-seg"
mkdir -p "$lib_dir"
lib="$lib_dir/hide_avx512.so"
if [ ! -f "$lib" ] || [ "$HERE/hide_avx512.c" -nt "$lib" ]; then
    "$CC" -O2 -shared -fPIC -Wall -o "$lib.tmp" "$HERE/hide_avx512.c" -ldl
    mv "$lib.tmp" "$lib"
fi
if ! LD_PRELOAD="$lib" "$CC" -march=native -dM -E -x c /dev/null >"$lib_dir/native_macros.txt"; then
    echo "as_avx2_machine.sh: CPUID faulting is not available here (see the message above)" >&2
    exit 2
fi
if grep -q '#define __AVX512F__ ' "$lib_dir/native_macros.txt"; then
    echo "as_avx2_machine.sh: AVX-512 is still visible to the compiler under $lib" >&2
    exit 2
fi
echo "as_avx2_machine.sh: AVX-512 hidden (HOME=$AVX2_HOME): $*" >&2
export HOME="$AVX2_HOME"
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"
