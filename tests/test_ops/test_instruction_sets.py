"""The fast-op kernels on the instruction sets this host cannot show by itself.

* On an AVX-512 host the kernel tests run a second time, in a child process
  whose kernels are built with ``-mno-avx512f`` (so the AVX2 code paths run);
  every test collected there must pass (a skipped one fails this test).
* Every kernel header is compiled (not run) for x86-64-v3 (AVX2), x86-64-v4
  (AVX-512) and aarch64 (Debian's cross compiler, installed by
  tools/setup_env.sh), so that a change that breaks another target fails here.
"""
import os
import platform
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from dformer_seg.ops import FAST_OPS, kernels
from dformer_seg.runtime import jittor_dnnl_dir

from op_test_utils import skip_unless_kernels_run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL_TESTS = ('tests/test_ops/test_fast_ops.py', 'tests/test_ops/test_activation.py',
                'tests/test_ops/test_depthwise_conv.py')
IS_X86 = platform.machine().lower() in ('x86_64', 'amd64')
COMPILE_TARGETS = {
    'x86-64-v3 (AVX2)': ('g++', '-march=x86-64-v3'),
    'x86-64-v4 (AVX-512)': ('g++', '-march=x86-64-v4'),
    'aarch64': ('aarch64-linux-gnu-g++' if IS_X86 else 'g++', '-march=armv8-a'),
}


def host_has_avx512():
    """Whether ``-march=native`` (what Jittor builds with) enables AVX-512.

    The compiler is asked rather than /proc/cpuinfo, which still lists avx512f
    where tests/isa/as_avx2_machine.sh hides it from the CPUID instruction.
    """
    if not IS_X86:
        return False
    compiler = os.environ.get('cc_path') or 'g++'
    macros = subprocess.run([compiler, '-march=native', '-dM', '-E', '-x', 'c++', os.devnull], capture_output=True,
                            text=True, check=True).stdout
    return '#define __AVX512F__ ' in macros


def test_kernels_are_built_for_the_requested_instruction_set():
    features = kernels.kernel_target_features()
    if not IS_X86:
        pytest.skip('not an x86 host')
    expect_avx512 = host_has_avx512() and '-mno-avx512f' not in kernels.compile_flags()
    assert features['avx512f'] == expect_avx512, (features, kernels.compile_flags())


def junit_outcomes(path):
    """test id -> 'passed' / 'skipped' / 'failed' from a pytest JUnit XML report."""
    outcomes = {}
    for case in ET.parse(path).iter('testcase'):
        kinds = {child.tag for child in case} & {'skipped', 'failure', 'error'}
        outcome = 'passed' if not kinds else 'skipped' if kinds == {'skipped'} else 'failed'
        outcomes[f'{case.get("classname")}::{case.get("name")}'] = outcome
    return outcomes


def test_junit_outcomes_tell_skips_and_failures_from_passes(tmp_path):
    report = tmp_path / 'report.xml'
    report.write_text('<testsuites><testsuite tests="4">'
                      '<testcase classname="tests.a" name="test_ok"/>'
                      '<testcase classname="tests.a" name="test_off[x]"><skipped message="no kernel"/></testcase>'
                      '<testcase classname="tests.b" name="test_bad"><failure message="x"/></testcase>'
                      '<testcase classname="tests.b" name="test_broken"><error message="y"/></testcase>'
                      '</testsuite></testsuites>')
    assert junit_outcomes(report) == {'tests.a::test_ok': 'passed', 'tests.a::test_off[x]': 'skipped',
                                      'tests.b::test_bad': 'failed', 'tests.b::test_broken': 'failed'}


def test_kernel_tests_pass_without_avx512(tmp_path):
    if not IS_X86 or not host_has_avx512():
        pytest.skip('no AVX-512 on this host: the whole suite already runs the AVX2 code paths')
    if kernels.compile_flags():
        pytest.skip(f'this process already builds its kernels with {kernels.compile_flags()!r}')
    skip_unless_kernels_run()  # the child would skip the kernel tests for the same reason
    env = dict(os.environ, **{kernels.KERNEL_FLAGS_ENV: '-mno-avx512f'})
    tests = list(KERNEL_TESTS) + [os.path.relpath(__file__, REPO) + '::test_kernels_are_built_for_the_requested_'
                                  'instruction_set']
    report = tmp_path / 'report.xml'
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', f'--junitxml={report}',
                             *tests], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, ('kernel tests without AVX-512 failed:\n' + result.stdout[-8000:]
                                    + result.stderr[-2000:])
    outcomes = junit_outcomes(report)
    not_passed = sorted(name for name, outcome in outcomes.items() if outcome != 'passed')
    assert not not_passed, f'kernel tests without AVX-512 did not all pass: {not_passed}\n{result.stdout[-3000:]}'
    # One numpy-and-plain case per registered op, at least, and the instruction-set check itself.
    assert sum(name.endswith(']') and 'test_kernel_matches_numpy' in name for name in outcomes) == len(FAST_OPS)
    assert any(name.endswith('::test_kernels_are_built_for_the_requested_instruction_set') for name in outcomes)


@pytest.mark.parametrize('target', sorted(COMPILE_TARGETS))
def test_kernel_headers_compile_for(target):
    compiler, flags = COMPILE_TARGETS[target]
    if target.startswith('x86') and not IS_X86:
        pytest.skip('not an x86 host (no x86 compiler assumed)')
    if shutil.which(compiler) is None:
        pytest.skip(f'{compiler} is not installed (tools/setup_env.sh installs g++-aarch64-linux-gnu on Debian)')
    onednn_include = os.path.join(jittor_dnnl_dir(), 'include')
    if not os.path.isfile(os.path.join(onednn_include, 'dnnl.hpp')):
        pytest.skip('oneDNN headers not set up (install libdnnl-dev)')
    errors = kernels.compile_headers(compiler, flags, include_dirs=[onednn_include])
    assert not errors, '\n'.join(f'--- {name} ({target}):\n{text[-3000:]}' for name, text in errors.items())
