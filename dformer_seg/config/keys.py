"""The top-level config keys the toolbox reads, and the check that a config uses no others.

A mistyped top-level key (``train_dataloder = ...``) would otherwise be stored
and never read. Every key a run may hold is listed here, with its reader:

* ``RUNNER_KEYS``: read by :meth:`dformer_seg.engine.Runner.from_cfg`.
* ``TOOL_KEYS``: read by the tools and the inference API (``device``,
  ``tta_cfg``), the config loader (``custom_imports``, ``custom_keys``) and
  the runner's work-dir guard (``allow_existing_work_dir``).
* ``VARIABLE_KEYS``: the names the data set configs under ``configs/_base_``
  use to build their loaders (``test_pipeline`` is also read by the inference
  API when a config has no test loader).

A config declares keys of its own in ``custom_keys = ['my_key', ...]`` (read
by your own code, e.g. a custom hook through ``runner.cfg``); names that
start with ``_`` are file-local helpers and never become keys.
"""
import difflib

from .config import ConfigError

RUNNER_KEYS = ('model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
               'test_evaluator', 'optim_wrapper', 'param_scheduler', 'train_loop', 'val_loop', 'test_loop',
               'default_hooks', 'custom_hooks', 'load_from', 'resume', 'seed', 'amp', 'log_level')
TOOL_KEYS = ('device', 'tta_cfg', 'custom_imports', 'custom_keys', 'allow_existing_work_dir')
VARIABLE_KEYS = ('dataset_type', 'data_root', 'crop_size', 'img_norm', 'train_pipeline', 'test_pipeline')
KNOWN_KEYS = RUNNER_KEYS + TOOL_KEYS + VARIABLE_KEYS
CUSTOM_KEYS = 'custom_keys'


def declared_custom_keys(cfg):
    """The keys a config lists in ``custom_keys`` (a name or a list of names)."""
    declared = cfg.get(CUSTOM_KEYS) or []
    declared = [declared] if isinstance(declared, str) else declared
    if not isinstance(declared, (list, tuple)) or not all(isinstance(k, str) for k in declared):
        raise ConfigError(f'custom_keys must be a list of key names, got {declared!r}')
    return set(declared)


def unknown_key_message(key, known):
    """``unknown top-level config key 'x'`` with the closest known keys."""
    close = difflib.get_close_matches(str(key), sorted(known), n=3, cutoff=0.6)
    hint = f'; did you mean {" or ".join(repr(k) for k in close)}?' if close else ''
    return (f'unknown top-level config key {key!r}{hint} (a key of your own must be listed in '
            f'custom_keys = [...], or start with "_" to stay local to its file)')


def check_top_level_keys(cfg, source=None):
    """Raise :class:`ConfigError` for the first key of ``cfg`` (a Config or dict) that nothing reads.

    ``source`` names where the keys come from in the message (default: the config's file name).
    """
    known = set(KNOWN_KEYS) | declared_custom_keys(cfg)
    unknown = sorted(str(key) for key in cfg.keys() if key not in known)
    if unknown:
        where = source or getattr(cfg, 'filename', None) or 'config'
        raise ConfigError(f'{where}: {unknown_key_message(unknown[0], known)}')


def check_option_keys(options, cfg):
    """Refuse ``--cfg-options`` whose first component is no known key of ``cfg`` (checked before merging)."""
    known = set(KNOWN_KEYS) | declared_custom_keys(cfg) | declared_custom_keys(options)
    for dotted in options:
        key = str(dotted).split('.')[0]
        if key not in known:
            raise ConfigError(f'--cfg-options {dotted}: {unknown_key_message(key, known)}')
