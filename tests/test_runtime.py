"""The runtime module is exercised in fresh subprocesses: it must act before Jittor is imported."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from dformer_seg import runtime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def isolated_environment():
    """This process's environment without the variables that steer the runtime set-up."""
    return {k: v for k, v in os.environ.items()
            if k not in ('nvcc_path', 'use_mkl', 'JITTOR_HOME', runtime.DEVICE_ENV)}


def run_python(code, env_updates, home):
    env = isolated_environment()
    env.update(env_updates)
    env['HOME'] = str(home)
    env['PYTHONPATH'] = REPO
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code).strip()], capture_output=True, text=True,
                            env=env, timeout=120)
    return result


# Load runtime.py on its own: importing the package would already prepare the environment.
LOAD_RUNTIME = f"""
    import importlib.util
    spec = importlib.util.spec_from_file_location('runtime', {os.path.join(REPO, 'dformer_seg', 'runtime.py')!r})
    runtime = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runtime)
"""

PROBE = LOAD_RUNTIME + """
    import json, os
    {patch}
    state = runtime.prepare_environment()
    print(json.dumps(dict(state=state, nvcc_path=os.environ.get('nvcc_path'), use_mkl=os.environ.get('use_mkl'))))
"""


def probe(tmp_path, patch='', **env):
    result = run_python(PROBE.format(patch=patch), env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_no_cuda_driver_falls_back_to_cpu(tmp_path):
    out, _ = probe(tmp_path, patch="runtime.cuda_status = lambda: (False, 'no CUDA driver library')")
    assert out['state']['device'] == 'cpu'
    assert out['nvcc_path'] == ''


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path):
    code = LOAD_RUNTIME + """
    runtime.cuda_status = lambda: (False, 'no CUDA device found')
    runtime.prepare_environment('cuda')
"""
    result = run_python(code, {}, tmp_path)
    assert result.returncode != 0
    assert 'CUDA is not usable: no CUDA device found' in result.stderr


def test_unknown_device_rejected(tmp_path):
    result = run_python(LOAD_RUNTIME + "\n    runtime.prepare_environment('tpu')", {}, tmp_path)
    assert result.returncode != 0 and "unknown device 'tpu'" in result.stderr


def test_device_from_environment_variable(tmp_path):
    out, _ = probe(tmp_path, **{runtime.DEVICE_ENV: 'cpu'})
    assert out['state']['device'] == 'cpu' and out['state']['reason'] == 'requested'


def test_without_onednn_disables_mkl_and_warns(tmp_path):
    out, stderr = probe(tmp_path, patch='runtime._find_system_onednn = lambda: None')
    assert out['use_mkl'] == '0'
    assert out['state']['onednn'] == 'oneDNN disabled'
    assert 'libdnnl-dev' in stderr


@pytest.mark.skipif(runtime._find_system_onednn() is None, reason='system oneDNN (libdnnl-dev) not installed')
def test_system_onednn_is_wired_where_jittor_looks(tmp_path):
    out, _ = probe(tmp_path)
    assert out['use_mkl'] is None
    assert out['state']['onednn'].startswith('oneDNN active')
    target = tmp_path / '.cache' / 'jittor' / 'mkl' / runtime.JITTOR_DNNL_DIRNAME
    assert (target / 'include' / 'dnnl.hpp').exists()
    assert os.path.realpath(target / 'lib' / 'libmkldnn.so') == os.path.realpath(runtime._find_system_onednn()[1])
    # a second run finds the layout already there
    out, _ = probe(tmp_path)
    assert out['state']['onednn'] == 'oneDNN active'


@pytest.mark.skipif(runtime._find_system_onednn() is None, reason='system oneDNN (libdnnl-dev) not installed')
def test_onednn_is_wired_under_the_jittor_home_jittor_uses(tmp_path):
    # Jittor keeps its cache under $JITTOR_HOME, and remembers that folder in ~/.cache/jittor/config.json.
    jittor_home = tmp_path / 'jittor-home'
    out, _ = probe(tmp_path, JITTOR_HOME=str(jittor_home))
    assert out['state']['onednn'].startswith('oneDNN active')
    assert (jittor_home / '.cache' / 'jittor' / 'mkl' / runtime.JITTOR_DNNL_DIRNAME / 'include' / 'dnnl.hpp').exists()
    assert not (tmp_path / '.cache' / 'jittor' / 'mkl').exists()

    remembered = tmp_path / 'remembered-home'
    (tmp_path / '.cache' / 'jittor').mkdir(parents=True, exist_ok=True)
    (tmp_path / '.cache' / 'jittor' / 'config.json').write_text(json.dumps({'JITTOR_HOME': str(remembered)}))
    out, _ = probe(tmp_path)
    assert (remembered / '.cache' / 'jittor' / 'mkl' / runtime.JITTOR_DNNL_DIRNAME / 'include' / 'dnnl.hpp').exists()


def test_import_has_no_side_effects(tmp_path):
    code = """
    import json, logging, os, sys
    before = dict(os.environ)
    import dformer_seg, dformer_seg.registry, dformer_seg.cli
    handlers = [type(h).__name__ for h in logging.getLogger('dformer_seg').handlers]
    changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
    print(json.dumps(dict(handlers=handlers, changed=changed, jittor='jittor' in sys.modules,
                          cache=os.path.exists(os.path.expanduser('~/.cache/jittor')))))
    """
    result = run_python(code, {}, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == dict(handlers=['NullHandler'], changed=[], jittor=False, cache=False)
    assert result.stderr == ''


def test_tool_setup_reports_device_and_onednn_and_quiets_jittors_start_up_lines():
    code = ('import sys; from dformer_seg import cli\n'
            "args = cli.default_parser('t', config=False).parse_args(sys.argv[1:])\n"
            'cli.setup(args)\n'
            'import jittor as jt\n'
            "jt.LOG.w('a warning after the start-up')\n")
    for argv, shows_start_up in (([], False), (['--debug'], True)):
        result = subprocess.run([sys.executable, '-c', code, *argv], capture_output=True, text=True,
                                env=dict(os.environ, PYTHONPATH=REPO), timeout=300)
        assert result.returncode == 0, result.stderr
        assert 'dformer_seg: device=' in result.stderr and 'oneDNN' in result.stderr
        assert ('cache_path:' in result.stderr) == shows_start_up, result.stderr  # one of Jittor's [i ...] lines
        assert 'a warning after the start-up' in result.stderr  # Jittor's warnings stay visible


def test_jittor_imports_on_this_machine():
    """The real case: nvcc may exist without a CUDA runtime; Jittor must still import and compute."""
    code = 'from dformer_seg import runtime; runtime.setup(); import jittor as jt; print(float((jt.ones(3) * 2).sum()))'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=REPO), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == '6.0'


def test_guard_before_jittor_import_leaves_user_settings_alone(tmp_path):
    code = LOAD_RUNTIME + """
    import json, os
    runtime.cuda_status = lambda: (False, 'no CUDA driver library')
    runtime.before_jittor_import()
    print(json.dumps(dict(nvcc_path=os.environ.get('nvcc_path'), use_mkl=os.environ.get('use_mkl'),
                          guard=runtime._import_guard, state=runtime._state)))
"""
    out = json.loads(run_python(code, {}, tmp_path).stdout.strip().splitlines()[-1])
    assert out['nvcc_path'] == '' and out['guard']['cpu_reason'] == 'no CUDA driver library'
    assert out['state'] == {}, 'the guard must leave the device to a later setup()'
    out = json.loads(run_python(code, {'nvcc_path': '/opt/cuda/bin/nvcc', 'use_mkl': '1'}, tmp_path)
                     .stdout.strip().splitlines()[-1])
    assert (out['nvcc_path'], out['use_mkl']) == ('/opt/cuda/bin/nvcc', '1')


def test_setup_after_the_guard_reports_why(tmp_path):
    code = LOAD_RUNTIME + """
    import json
    runtime.cuda_status = lambda: (False, 'no CUDA driver library')
    runtime.before_jittor_import()
    print(json.dumps(runtime.prepare_environment()))
"""
    state = json.loads(run_python(code, {}, tmp_path).stdout.strip().splitlines()[-1])
    assert (state['device'], state['reason']) == ('cpu', 'no CUDA driver library')
    assert state['onednn'].startswith('oneDNN ')


def test_api_imports_and_runs_without_explicit_setup():
    """``from dformer_seg.apis import ...`` first, as the docs show: Jittor must import on a machine with nvcc
    and no CUDA runtime (this machine type), and a later setup('cpu') adopts it."""
    code = """
    from dformer_seg.apis import init_model
    import jittor as jt
    from dformer_seg import runtime
    state = runtime.setup('cpu')
    print(state['device'], float((jt.ones(3) * 2).sum()))
    """
    env = isolated_environment()
    env['PYTHONPATH'] = REPO
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code).strip()], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == 'cpu 6.0'


def test_import_after_jittor_works_when_jittor_is_usable():
    """A notebook that imported jittor first (with nvcc_path set, as the docs say for such machines)."""
    code = """
    import jittor as jt
    from dformer_seg import runtime
    state = runtime.setup()
    from dformer_seg.registry import BACKBONES
    model = BACKBONES.build(dict(type='DFormer', arch='tiny'))
    print(state['device'], state['reason'], type(model).__name__, runtime.setup() == state)
    """
    env = {k: v for k, v in os.environ.items() if k != runtime.DEVICE_ENV}
    env.update(PYTHONPATH=REPO, nvcc_path='')
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code).strip()], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == 'cpu Jittor was imported before the set-up DFormer True'
