"""tests/isa/as_avx2_machine.sh: an AVX-512 host seen as an AVX2-only machine by everything a command starts."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tests', 'isa', 'as_avx2_machine.sh')


def native_macros(env=None):
    return subprocess.run(['gcc', '-march=native', '-dM', '-E', '-x', 'c', os.devnull], capture_output=True, text=True,
                          check=True, env=env).stdout


def cpuid_faulting_offered():
    with open('/proc/cpuinfo') as f:
        return ' cpuid_fault' in f.read()


pytestmark = pytest.mark.skipif(
    os.uname().machine not in ('x86_64', 'amd64') or '#define __AVX512F__ ' not in native_macros()
    or not cpuid_faulting_offered(),
    reason='needs an x86 host with AVX-512 (per the compiler) and CPUID faulting')


def run_as_avx2(tmp_path, *command):
    env = dict(os.environ, AVX2_HOME=str(tmp_path))
    env.pop('LD_PRELOAD', None)
    return subprocess.run(['bash', TOOL, *command], capture_output=True, text=True, env=env, timeout=300)


def test_compiler_numpy_and_new_threads_see_avx2_only(tmp_path):
    probe = (
        'import os, subprocess, threading\n'
        'macros = subprocess.run(["gcc", "-march=native", "-dM", "-E", "-x", "c", os.devnull],'
        ' capture_output=True, text=True).stdout\n'
        'print("compiler", "__AVX512F__" in macros, "__AVX2__" in macros, "__FMA__" in macros)\n'
        'def numpy_features():\n'
        '    from numpy._core._multiarray_umath import __cpu_features__ as f\n'
        '    print("numpy", f["AVX512F"], f["AVX2"])\n'
        'thread = threading.Thread(target=numpy_features)\n'
        'thread.start(); thread.join()\n'
        'print("home", os.environ["HOME"])\n')
    result = run_as_avx2(tmp_path, sys.executable, '-c', probe)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 'compiler False True True' in lines
    assert 'numpy False True' in lines
    assert f'home {tmp_path}' in lines
    # The host itself is untouched.
    assert '#define __AVX512F__ ' in native_macros()


def test_real_segfaults_still_reach_the_programs_handler_and_kill_it(tmp_path):
    # A shell reaps the crashing program: Jittor, imported by this test process, exits when a child of its own dies
    # from a signal.
    crash = f"'{sys.executable}' {{}} -c 'import ctypes; ctypes.string_at(0)'; echo exit status $?"
    result = run_as_avx2(tmp_path, 'bash', '-c', crash.format('-X faulthandler'))
    assert 'exit status 139' in result.stdout, (result.stdout, result.stderr)
    assert 'Fatal Python error: Segmentation fault' in result.stderr

    result = run_as_avx2(tmp_path, 'bash', '-c', crash.format(''))  # no handler of its own: the default action
    assert 'exit status 139' in result.stdout, (result.stdout, result.stderr)


def test_usage_without_a_command():
    result = subprocess.run(['bash', TOOL], capture_output=True, text=True)
    assert result.returncode == 2
    assert 'usage' in result.stderr
