import os
import sys

# Tests import helpers such as ``parity_fixtures`` from this folder, and the
# project's ``projects/`` packages from the repository root.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from dformer_seg import runtime  # noqa: E402

runtime.setup()  # before any test imports jittor

# DFORMER_SEG_KERNEL_FLAGS (e.g. -mno-avx512f) builds the fast-op kernels for another instruction set;
# tests/test_ops/test_instruction_sets.py runs the kernel tests that way.
from dformer_seg.ops import kernels  # noqa: E402

kernels.apply_compile_flags_from_env()

# Jittor's SIGCHLD handler ends this process (exit status 1, no report) when any child process ends by a signal
# (it takes that for a data-loader worker killed for memory). Tests start tools and whole pytest runs as
# children: one that crashes must fail its own test through its exit status, not end the suite without a word.
import signal  # noqa: E402

signal.signal(signal.SIGCHLD, signal.SIG_DFL)
