"""The top-level config keys the toolbox reads, and the check of a config's other keys.

A mistyped top-level key (``train_dataloder = ...``) would otherwise be stored
and never read; a helper variable of your own (``classes = [...]``, used
further down the file) is fine. So :func:`check_top_level_keys` (run by the
tools, :func:`dformer_seg.apis.init_model` and the Runner) refuses a key that
is close to a known key but is not one (``trian_dataloader``: "did you mean
'train_dataloader'?") and warns once, naming them, about the other keys that
nothing reads. The known keys, with their readers:

* ``RUNNER_KEYS``: read by :meth:`dformer_seg.engine.Runner.from_cfg`.
* ``TOOL_KEYS``: read by the tools and the inference API (``device``,
  ``tta_cfg``), the config loader (``custom_imports``, ``custom_keys``) and
  the runner's work-dir guard (``allow_existing_work_dir``).
* ``VARIABLE_KEYS``: the names the data set configs under ``configs/_base_``
  use to build their loaders (``test_pipeline`` is also read by the inference
  API when a config has no test loader).

A config lists keys of its own in ``custom_keys = ['my_key', ...]`` (read by
your own code, e.g. a custom hook through ``runner.cfg``; also the way to keep
a key that looks like a known one); listed keys get no warning. Names that
start with ``_`` are file-local helpers and never become keys.
"""
import difflib
import logging

from .config import ConfigError

logger = logging.getLogger('dformer_seg')

RUNNER_KEYS = ('model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
               'test_evaluator', 'optim_wrapper', 'param_scheduler', 'train_loop', 'val_loop', 'test_loop',
               'default_hooks', 'custom_hooks', 'load_from', 'resume', 'seed', 'amp', 'log_level')
TOOL_KEYS = ('device', 'tta_cfg', 'custom_imports', 'custom_keys', 'allow_existing_work_dir')
VARIABLE_KEYS = ('dataset_type', 'data_root', 'crop_size', 'img_norm', 'train_pipeline', 'test_pipeline')
KNOWN_KEYS = RUNNER_KEYS + TOOL_KEYS + VARIABLE_KEYS
# The keys something reads: a new key close to one of them is a typo. (The other variable names are the
# shipped configs' helpers, as a user's own ones are: ``crop_sizes`` next to them is no typo.)
READ_KEYS = RUNNER_KEYS + TOOL_KEYS + ('test_pipeline',)
CUSTOM_KEYS = 'custom_keys'
# How alike (difflib ratio) a new key and a known key must be for the new one to count as a typo.
NEAR_MISS_CUTOFF = 0.85
_warned = set()


def declared_custom_keys(cfg):
    """The keys a config lists in ``custom_keys`` (a name or a list of names)."""
    declared = cfg.get(CUSTOM_KEYS) or []
    declared = [declared] if isinstance(declared, str) else declared
    if not isinstance(declared, (list, tuple)) or not all(isinstance(k, str) for k in declared):
        raise ConfigError(f'custom_keys must be a list of key names, got {declared!r}')
    return set(declared)


def near_misses(key, known):
    """The known keys that ``key`` looks like a typo of (``trian_dataloader`` -> ``train_dataloader``)."""
    return difflib.get_close_matches(str(key), sorted(known), n=3, cutoff=NEAR_MISS_CUTOFF)


def near_miss_message(key, close):
    return (f'unknown top-level config key {key!r}; did you mean {" or ".join(repr(k) for k in close)}? '
            f'(a key of your own that looks like a known one must be listed in custom_keys = [...])')


def _warn_unused(where, keys):
    """One warning per config source and set of keys (the tools and the Runner both check a config)."""
    if (where, tuple(keys)) in _warned:
        return
    _warned.add((where, tuple(keys)))
    logger.warning(f'{where}: top-level key(s) {", ".join(repr(k) for k in keys)} are not read by the '
                   f'toolbox (fine for helper variables; list them in custom_keys = [...] to silence this)')


def check_top_level_keys(cfg, source=None):
    """Check the top-level keys of ``cfg`` (a Config or dict): a key close to a known one that is not a
    known one raises :class:`ConfigError` naming the closest; other new keys get one warning.

    ``source`` names where the keys come from in the message (default: the config's file name).
    """
    declared = declared_custom_keys(cfg)
    unknown = sorted(str(key) for key in cfg.keys() if key not in set(KNOWN_KEYS) | declared)
    where = source or getattr(cfg, 'filename', None) or 'config'
    for key in unknown:
        close = near_misses(key, set(READ_KEYS) | declared)
        if close:
            raise ConfigError(f'{where}: {near_miss_message(key, close)}')
    if unknown:
        _warn_unused(where, unknown)


def check_option_keys(options, cfg):
    """Refuse ``--cfg-options`` whose first component is close to, but not, a key of ``cfg`` or a known key
    (checked before merging); an option that adds another new key gets one warning."""
    declared = declared_custom_keys(cfg) | declared_custom_keys(options)
    new = []
    for dotted in options:
        key = str(dotted).split('.')[0]
        if key in set(KNOWN_KEYS) | set(cfg.keys()) | declared:
            continue
        close = near_misses(key, set(READ_KEYS) | set(cfg.keys()) | declared)
        if close:
            raise ConfigError(f'--cfg-options {dotted}: {near_miss_message(key, close)}')
        new.append(key)
    if new:
        _warn_unused('--cfg-options', sorted(set(new)))
