"""The C++ kernel sources in ``csrc/`` and how Jittor builds them.

Every fast op's kernel is a function in a header under ``csrc/`` (shipped as
package data); the Python side passes Jittor only a one-line call of it. This
module turns the headers into the ``cpu_header`` text of ``jt.code``: local
includes are inlined (each file once), ``#line`` marks make compiler
messages point at the files in ``csrc/`` instead of Jittor's cache, and the
text ends with an unconditional ``#include`` because Jittor inserts its own
defines after the last ``#include`` line of a header (one inside an ``#if``
would hide them).

It also lets a process build the kernels for another instruction set
(:func:`set_compile_flags`, e.g. ``-mno-avx512f`` on an AVX-512 host) and
compile every header on its own for any target (:func:`compile_headers`),
which is how the test suite checks the code paths its host cannot run.
"""
import collections
import functools
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import jittor as jt

from ..utils.jittor_internals import add_compile_flags

CSRC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'csrc')
KERNEL_FLAGS_ENV = 'DFORMER_SEG_KERNEL_FLAGS'
_LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$')
_PRAGMA_ONCE = re.compile(r'^\s*#\s*pragma\s+once\s*$')

# How often each op built its kernel (rather than the plain formulation) in this process.
kernel_builds = collections.Counter()
_compile_flags = []


def header_path(name):
    path = os.path.join(CSRC_DIR, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'kernel source {name!r} not found in {CSRC_DIR}')
    return path


def kernel_headers():
    """Names of all kernel headers in ``csrc/``."""
    return sorted(name for name in os.listdir(CSRC_DIR) if name.endswith('.h'))


def _inline(name, done, out):
    if name in done:
        return
    done.add(name)
    path = header_path(name)
    with open(path) as f:
        lines = f.read().splitlines()
    out.append(f'#line 1 "{path}"')
    for number, line in enumerate(lines, start=1):
        local = _LOCAL_INCLUDE.match(line)
        if local:
            _inline(local.group(1), done, out)
            out.append(f'#line {number + 1} "{path}"')
        elif not _PRAGMA_ONCE.match(line):
            out.append(line)


@functools.lru_cache(maxsize=None)
def header(*names):
    """``cpu_header`` text for ``jt.code`` made of the headers ``names`` (and what they include)."""
    out, done = [], set()
    for name in names:
        _inline(name, done, out)
    out.append('#line 1 "dformer_seg kernel call (jt.code cpu_src)"')
    out.append('#include <cstddef>  // last #include: Jittor puts its defines after it')
    return '\n'.join(out) + '\n'


def _jt_code(shapes, dtypes, inputs, cpu_header, cpu_src, data=None):
    """``jt.code`` with this process's extra compile flags (:func:`set_compile_flags`) applied to the kernel."""
    flags = compile_flags()
    if flags:
        # The comment makes the kernel's key (and cached binary) differ from the host-target build of the same code.
        cpu_header = f'{cpu_header}// built with extra flags: {flags}\n'
    kwargs = dict(cpu_header=cpu_header, cpu_src=cpu_src)
    if data:
        kwargs['data'] = data
    outputs = jt.code(shapes, dtypes, inputs, **kwargs)
    if flags:
        for out in (outputs if isinstance(outputs, (list, tuple)) else [outputs]):
            add_compile_flags(out, flags)
    return outputs


def code(op_name, shapes, dtypes, inputs, headers, src, data=None):
    """``jt.code`` of a kernel of ``op_name`` whose source is the call ``src`` of functions in ``headers``."""
    kernel_builds[op_name] += 1
    # The marker leads Jittor's kernel key, where the profiler (benchmark.py --profile) finds it.
    return _jt_code(shapes, dtypes, inputs, f'// fastop_{op_name}\n' + header(*headers), src, data)


def set_compile_flags(flags):
    """Build this process's fast-op kernels with extra compiler ``flags`` (e.g. ``'-mno-avx512f'``).

    Only the fast-op kernels get them (as a per-kernel compile option; Jittor's
    own kernels keep their builds), and their cache keys carry the flags, so
    they sit beside the host-target builds in Jittor's cache without replacing
    them. Call it before the first kernel runs.
    """
    flags = ' '.join(flags.split())
    if flags and flags not in _compile_flags:
        _compile_flags.append(flags)


def compile_flags():
    """The extra flags set by :func:`set_compile_flags` in this process (empty: the host's own target)."""
    return ' '.join(_compile_flags)


def apply_compile_flags_from_env():
    """:func:`set_compile_flags` with ``$DFORMER_SEG_KERNEL_FLAGS`` when set (used by the test suite)."""
    if os.environ.get(KERNEL_FLAGS_ENV, '').strip():
        set_compile_flags(os.environ[KERNEL_FLAGS_ENV])


# Instruction-set macros reported by :func:`kernel_target_features`, in this order.
_FEATURE_MACROS = ('__AVX512F__', '__AVX2__', '__FMA__', '__ARM_NEON')


def kernel_target_features():
    """The instruction sets the kernels of this process are compiled for, e.g. ``{'avx512f': True, ...}``.

    Asked from the compiler itself (its predefined macros, in a tiny kernel
    built with the same flags as every fast op).
    """
    checks = '\n'.join(f'#ifdef {macro}\n    out0_p[{i}] = 1;\n#endif'
                       for i, macro in enumerate(_FEATURE_MACROS))
    src = f'for (int i = 0; i < {len(_FEATURE_MACROS)}; i++) out0_p[i] = 0;\n{checks}'
    with jt.no_grad():
        flags = _jt_code((len(_FEATURE_MACROS),), 'int32', [], header('common.h'), src).numpy()
    return {macro.strip('_').lower(): bool(flag) for macro, flag in zip(_FEATURE_MACROS, flags)}


def compile_headers(compiler, flags, include_dirs=(), names=None, jobs=2):
    """Compile each kernel header on its own (object code discarded); returns ``{name: error text}``.

    Every ``DFORMER_SEG_KERNEL`` function is compiled as an ordinary external
    function, so nothing is left out as unused inline code.
    """
    names = names or kernel_headers()
    includes = ['-I', CSRC_DIR] + [arg for d in include_dirs for arg in ('-I', d)]
    base = [compiler, '-x', 'c++', '-std=c++14', '-fopenmp', '-O0', '-DDFORMER_SEG_KERNEL=', '-Wall',
            '-Wno-unknown-pragmas', *flags.split(), *includes, '-c', '-', '-o', os.devnull]

    def compile_one(name):
        result = subprocess.run(base, input=f'#include "{name}"\n', capture_output=True, text=True)
        return name, (result.stderr if result.returncode else None)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(compile_one, names))
    return {name: error for name, error in results if error is not None}
