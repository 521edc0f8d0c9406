"""Set up Jittor for the toolbox: :func:`setup`, an explicit and idempotent call.

The tools, :func:`dformer_seg.apis.init_model` and the Runner call it; in your own
script call ``dformer_seg.runtime.setup()`` (optionally ``device='cpu'|'cuda'``)
before importing anything that imports Jittor. Two problems are solved when it
runs before Jittor is imported:

* A machine with ``nvcc`` but without a working CUDA driver/runtime (or GPU)
  makes ``import jittor`` die while looking for ``libcudart``. We probe the
  driver ourselves and, when CUDA is not usable, set ``nvcc_path=""`` (Jittor's
  switch for a CPU-only build).
* Jittor downloads oneDNN at first import, which fails offline. When the
  distribution's oneDNN 2.x (``libdnnl-dev``) is installed, we lay it out where
  Jittor looks for its own copy; otherwise we set ``use_mkl=0`` and warn that
  convolutions will be much slower.

Importing ``dformer_seg`` itself changes nothing. Each part of the package that
imports Jittor (``apis``, ``models``, ``ops``, ...) first calls
:func:`before_jittor_import`, which does the two fixes above and leaves the
device open, so ``from dformer_seg.apis import init_model`` works on such a
machine without an explicit ``setup()``.

When Jittor was imported first (a notebook that did ``import jittor``), setup
works with the Jittor that is loaded: it selects the device and says what is
missing (oneDNN, CUDA) and what to set next time. On a machine with ``nvcc`` but
no CUDA runtime a bare ``import jittor`` dies inside Jittor before any of this
can act: there, set ``nvcc_path=""`` in the environment or call ``setup()``
first.

The device defaults to the ``DFORMER_SEG_DEVICE`` environment variable
(``auto`` | ``cpu`` | ``cuda``). Only :func:`setup` and :func:`use_device` import Jittor.
"""
import ctypes
import ctypes.util
import glob
import json
import logging
import os
import sys

DEVICE_ENV = 'DFORMER_SEG_DEVICE'
VALID_DEVICES = ('auto', 'cpu', 'cuda')
# Jittor 1.3 looks for exactly this folder name under ~/.cache/jittor/mkl.
JITTOR_DNNL_DIRNAME = 'dnnl_lnx_2.2.0_cpu_gomp'
ONEDNN_INSTALL_HINT = 'sudo apt-get install libdnnl-dev'

logger = logging.getLogger('dformer_seg')


class DeviceError(RuntimeError):
    """The requested device cannot be used here (CUDA asked for on a machine without it, an unknown name)."""

# Jittor's own flag (also an environment variable): no info or warning lines from Jittor while it is set.
JITTOR_SILENT_ENV = 'log_silent'

_state = {}
_selected = []  # the device use_device() last switched Jittor to
_import_guard = {}  # what before_jittor_import() did, for the report of a later setup()


def cuda_status():
    """Return ``(usable, reason)`` for the CUDA driver of this machine."""
    for name in ('libcuda.so.1', 'libcuda.so', ctypes.util.find_library('cuda')):
        if not name:
            continue
        try:
            libcuda = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return False, 'no CUDA driver library (libcuda) found'
    if libcuda.cuInit(0) != 0:
        return False, 'the CUDA driver failed to initialise (no GPU visible?)'
    count = ctypes.c_int(0)
    if libcuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return False, 'no CUDA device found'
    return True, f'{count.value} CUDA device(s)'


def _find_system_onednn():
    """Return ``(include_dir, libdnnl.so.2 path)`` of a system oneDNN 2.x, or None."""
    include_dirs = [d for d in ('/usr/include/oneapi/dnnl', '/usr/local/include/oneapi/dnnl')
                    if os.path.isfile(os.path.join(d, 'dnnl.hpp'))]
    libs = []
    for pattern in ('/usr/lib/*-linux-gnu/libdnnl.so.2', '/usr/lib/libdnnl.so.2',
                    '/usr/local/lib/libdnnl.so.2', '/usr/lib64/libdnnl.so.2'):
        libs.extend(sorted(glob.glob(pattern)))
    if not include_dirs or not libs:
        return None
    return include_dirs[0], libs[0]


def jittor_home():
    """The folder Jittor keeps ``.cache/jittor`` in, found as Jittor finds it: ``$JITTOR_HOME``, else the
    ``JITTOR_HOME`` that Jittor remembered in ``~/.cache/jittor/config.json``, else the home directory."""
    if os.environ.get('JITTOR_HOME'):
        return os.path.abspath(os.environ['JITTOR_HOME'])
    config = os.path.join(os.path.expanduser('~'), '.cache', 'jittor', 'config.json')
    try:
        with open(config) as f:
            remembered = json.load(f).get('JITTOR_HOME')
    except (OSError, ValueError, AttributeError):
        remembered = None
    return os.path.abspath(remembered) if remembered else os.path.expanduser('~')


def jittor_dnnl_dir():
    return os.path.join(jittor_home(), '.cache', 'jittor', 'mkl', JITTOR_DNNL_DIRNAME)


def wire_onednn():
    """Make a oneDNN available to Jittor. Returns a short status string."""
    target = jittor_dnnl_dir()
    lib_link = os.path.join(target, 'lib', 'libmkldnn.so')
    if os.path.isfile(lib_link) and os.path.isfile(os.path.join(target, 'include', 'dnnl.hpp')):
        return 'oneDNN active'
    found = _find_system_onednn()
    if found is None:
        return None
    include_src, lib_src = found
    os.makedirs(os.path.join(target, 'include'), exist_ok=True)
    os.makedirs(os.path.join(target, 'lib'), exist_ok=True)
    for name in os.listdir(include_src):
        dst = os.path.join(target, 'include', name)
        if not os.path.lexists(dst):
            os.symlink(os.path.join(include_src, name), dst)
    if os.path.lexists(lib_link):
        os.remove(lib_link)  # a dangling link from an earlier, removed install
    os.symlink(lib_src, lib_link)
    return f'oneDNN active (system {os.path.basename(lib_src)})'


def _wire_onednn_or_disable():
    """Wire the system oneDNN, or set ``use_mkl=0`` and warn; returns the status string."""
    onednn = wire_onednn()
    if onednn is None:
        os.environ['use_mkl'] = '0'
        onednn = 'oneDNN disabled'
        logger.warning('oneDNN (libdnnl) not found: convolutions run about 60x slower on the CPU. '
                       f'Install it with `{ONEDNN_INSTALL_HINT}`.')
    return onednn


def before_jittor_import():
    """Make the coming ``import jittor`` work on this machine, the device left open.

    Sets ``nvcc_path=""`` when CUDA is not usable (otherwise Jittor dies looking
    for ``libcudart``) and wires the system oneDNN (or sets ``use_mkl=0``), each
    unless the user set the variable. Does nothing once Jittor is imported or
    :func:`prepare_environment` has run. A later :func:`setup` adopts the loaded
    Jittor and may still choose CPU or (where usable) CUDA.
    """
    if 'jittor' in sys.modules or _state or _import_guard:
        return
    _import_guard['done'] = True
    if 'nvcc_path' not in os.environ:
        usable, reason = cuda_status()
        if not usable:
            os.environ['nvcc_path'] = ''
            _import_guard['cpu_reason'] = reason
    if 'use_mkl' not in os.environ:
        _import_guard['onednn'] = _wire_onednn_or_disable()


def prepare_environment(device=None):
    """Set Jittor's environment variables for ``device`` before Jittor is imported.

    Idempotent; returns a dict with ``device`` ('cpu' or 'cuda') and ``onednn``.
    Raises :class:`DeviceError` (a RuntimeError) for an unknown device, when CUDA
    is requested but unusable, or when Jittor was already set up for another device.
    """
    device = (device or os.environ.get(DEVICE_ENV) or 'auto').lower()
    if device not in VALID_DEVICES:
        raise DeviceError(f'unknown device {device!r}; choose one of {", ".join(VALID_DEVICES)} '
                          f'(from --device or ${DEVICE_ENV})')
    if _state:
        if device == 'cuda' and _state['device'] == 'cpu':  # a CUDA Jittor also runs on the CPU, not the reverse
            raise DeviceError(f'the Jittor runtime was already set up for the CPU; '
                              f'cannot switch to {device} in the same process')
        return dict(_state)
    if 'jittor' in sys.modules:
        return _adopt_loaded_jittor(device)

    if 'nvcc_path' in os.environ and device == 'auto':
        chosen = 'cuda' if os.environ['nvcc_path'] else 'cpu'
        reason = _import_guard.get('cpu_reason', 'nvcc_path set by the user')
    elif device == 'cpu':
        chosen, reason = 'cpu', 'requested'
    else:
        usable, reason = cuda_status()
        if device == 'cuda' and not usable:
            raise DeviceError(f'--device cuda was requested but CUDA is not usable: {reason}')
        chosen = 'cuda' if usable else 'cpu'
    if chosen == 'cpu':
        os.environ['nvcc_path'] = ''

    if 'onednn' in _import_guard:
        onednn = _import_guard['onednn']
    elif 'use_mkl' in os.environ:
        onednn = 'oneDNN ' + ('active (use_mkl=1 set by the user)' if os.environ['use_mkl'] == '1'
                              else 'disabled (use_mkl=0 set by the user)')
    else:
        onednn = _wire_onednn_or_disable()
    _state.update(device=chosen, reason=reason, onednn=onednn)
    return dict(_state)


def _adopt_loaded_jittor(device):
    """The runtime state of a Jittor that was imported before :func:`prepare_environment`."""
    import jittor as jt
    from jittor import compile_extern
    if device == 'cuda' and not jt.has_cuda:
        if 'cpu_reason' in _import_guard:
            raise DeviceError(f'--device cuda was requested but CUDA is not usable: {_import_guard["cpu_reason"]}')
        raise DeviceError('--device cuda was requested, but the loaded Jittor has no CUDA (it was imported '
                           'before dformer_seg.runtime.setup(); check nvcc_path and the CUDA runtime)')
    if compile_extern.mkl_ops is not None:
        onednn = 'oneDNN active (loaded by Jittor)'
    else:
        onednn = 'oneDNN disabled'
        if not _import_guard:  # before_jittor_import() has warned already
            logger.warning('Jittor was imported before dformer_seg.runtime.setup() without oneDNN: convolutions run '
                           'about 60x slower on the CPU. Call dformer_seg.runtime.setup() before importing jittor '
                           f'(with `{ONEDNN_INSTALL_HINT}` done) to use the system oneDNN.')
    chosen = 'cuda' if device != 'cpu' and jt.has_cuda else 'cpu'
    if chosen == 'cpu' and 'cpu_reason' in _import_guard:
        reason = _import_guard['cpu_reason']
    elif _import_guard:
        reason = 'requested' if device != 'auto' else 'auto'
    else:
        reason = 'Jittor was imported before the set-up'
    _state.update(device=chosen, reason=reason, onednn=onednn)
    return dict(_state)


def setup(device=None, jittor_log=True):
    """Prepare Jittor for ``device`` ('auto' | 'cpu' | 'cuda'; default ``$DFORMER_SEG_DEVICE`` or auto).

    Idempotent: later calls return the same state; once Jittor is loaded a call with a
    ``device`` switches ``jt.flags.use_cuda`` to it, a call without one keeps the device
    chosen before. Returns a dict with ``device``, ``reason`` and ``onednn``.
    ``jittor_log=False`` imports Jittor now without its start-up lines (paths, compiler,
    cache; Jittor's warnings after the import stay visible), as the tools do unless
    ``--debug`` is given.
    """
    first = not _state
    state = prepare_environment(device)
    if not jittor_log:
        import_jittor_quietly()
    if 'jittor' in sys.modules and (device or not _selected):
        use_device(device or os.environ.get(DEVICE_ENV) or 'auto')
    if first:
        logger.info(describe())
    return state


def import_jittor_quietly():
    """Import Jittor with its info and warning lines off during the import (unless the user set Jittor's
    ``log_silent`` flag), on again afterwards."""
    if 'jittor' in sys.modules or JITTOR_SILENT_ENV in os.environ:
        return
    os.environ[JITTOR_SILENT_ENV] = '1'
    try:
        import jittor as jt
    finally:
        del os.environ[JITTOR_SILENT_ENV]
    jt.flags.log_silent = 0
    jt.LOG.log_silent = 0  # the Python side of the same switch, read once when Jittor is imported


def describe():
    if not _state:
        return 'dformer_seg runtime not prepared'
    return f'dformer_seg: device={_state["device"]} ({_state["reason"]}), {_state["onednn"]}'


def use_device(device):
    """Switch Jittor to ``device`` ('cpu' | 'cuda' | 'auto') after import."""
    import jittor as jt
    state = prepare_environment()
    device = (device or 'auto').lower()
    if device not in VALID_DEVICES:
        raise DeviceError(f'unknown device {device!r}; choose one of {", ".join(VALID_DEVICES)}')
    if device == 'cuda' and not jt.has_cuda:
        raise DeviceError(f'CUDA was requested but this process runs Jittor without CUDA ({describe()})')
    jt.flags.use_cuda = int(device == 'cuda' or (device == 'auto' and state['device'] == 'cuda'
                                                  and jt.has_cuda))
    _selected[:] = ['cuda' if jt.flags.use_cuda else 'cpu']
    return _selected[0]
