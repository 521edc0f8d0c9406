"""Registries that map config ``type`` names to classes.

Every buildable component (backbone, head, dataset, transform, hook, ...) is
registered in one of the registries below and built from a config dict::

    @BACKBONES.register_module()
    class MyBackbone(nn.Module): ...

    backbone = BACKBONES.build(dict(type='MyBackbone', depth=4))

Each registry knows the package(s) whose import registers its built-in
entries (``locations``) and imports them on first use, so
``BACKBONES.build(dict(type='DFormer', arch='tiny'))`` works in a fresh
interpreter without importing ``dformer_seg.models`` first.
"""
import copy
import difflib
import importlib
import inspect


class Registry:
    """A name -> class (or function) table with a config-driven ``build``."""

    def __init__(self, name, locations=()):
        self.name = name
        self.locations = tuple(locations)
        self._module_dict = {}
        self._locations_imported = False

    def _import_locations(self):
        """Import the packages that register the built-in entries (once; registering never triggers it)."""
        if self._locations_imported:
            return
        self._locations_imported = True
        for location in self.locations:
            importlib.import_module(location)

    def __len__(self):
        self._import_locations()
        return len(self._module_dict)

    def __contains__(self, key):
        self._import_locations()
        return key in self._module_dict

    def __repr__(self):
        self._import_locations()
        return f'Registry(name={self.name}, items={sorted(self._module_dict)})'

    @property
    def module_dict(self):
        self._import_locations()
        return dict(self._module_dict)

    def get(self, key):
        self._import_locations()
        return self._module_dict.get(key)

    def _register(self, module, name, force):
        if not (inspect.isclass(module) or callable(module)):
            raise TypeError(f'only classes or functions can be registered in {self.name}, '
                            f'got {type(module)}')
        names = [module.__name__] if name is None else ([name] if isinstance(name, str) else list(name))
        for key in names:
            if key in self._module_dict and not force and self._module_dict[key] is not module:
                raise KeyError(f'{key} is already registered in registry {self.name} '
                               f'(by {self._module_dict[key].__module__}); pass force=True to replace it')
            self._module_dict[key] = module

    def register_module(self, name=None, force=False, module=None):
        """Register a class or function, as a decorator or directly (``module=``)."""
        if module is not None:
            self._register(module, name, force)
            return module

        def decorator(cls):
            self._register(cls, name, force)
            return cls

        return decorator

    def _unknown_type_error(self, type_name):
        close = difflib.get_close_matches(type_name, list(self._module_dict), n=3, cutoff=0.5)
        hint = f' Did you mean: {", ".join(close)}?' if close else ''
        known = ', '.join(sorted(self._module_dict)) or '(empty)'
        return KeyError(f"'{type_name}' is not registered in registry {self.name}.{hint} "
                        f'Registered: {known}')

    def build(self, cfg, **default_args):
        """Build ``cfg['type']`` with the remaining keys as keyword arguments.

        ``cfg`` is deep-copied first, so the caller's config is never changed.
        ``type`` may be a registered name or a class. ``default_args`` fill in
        keys the config does not set.
        """
        if not isinstance(cfg, dict):
            raise TypeError(f'{self.name}.build expects a dict config, got {type(cfg).__name__}: {cfg!r}')
        if 'type' not in cfg:
            raise KeyError(f'config for registry {self.name} has no "type" key: {dict(cfg)!r}')
        args = copy.deepcopy(dict(cfg))
        obj_type = args.pop('type')
        for key, value in default_args.items():
            args.setdefault(key, value)
        if isinstance(obj_type, str):
            obj_cls = self.get(obj_type)
            if obj_cls is None:
                raise self._unknown_type_error(obj_type)
        elif inspect.isclass(obj_type) or callable(obj_type):
            obj_cls = obj_type
        else:
            raise TypeError(f'"type" in a {self.name} config must be a str or a class, got {obj_type!r}')
        try:
            return obj_cls(**args)
        except TypeError as exc:
            raise TypeError(f'{self.name}: building {getattr(obj_cls, "__name__", obj_cls)} failed: {exc}') from exc


_MODELS = ('dformer_seg.models',)
_ENGINE = ('dformer_seg.engine',)
BACKBONES = Registry('backbone', locations=_MODELS)
HEADS = Registry('head', locations=_MODELS)
LOSSES = Registry('loss', locations=_MODELS)
SEGMENTORS = Registry('segmentor', locations=_MODELS)
DATASETS = Registry('dataset', locations=('dformer_seg.datasets',))
PIPELINES = Registry('pipeline', locations=('dformer_seg.datasets',))
HOOKS = Registry('hook', locations=_ENGINE)
OPTIMIZERS = Registry('optimizer', locations=_ENGINE)
OPTIM_WRAPPERS = Registry('optim_wrapper', locations=_ENGINE)
SCHEDULERS = Registry('scheduler', locations=_ENGINE)
METRICS = Registry('metric', locations=('dformer_seg.evaluation',))
LOOPS = Registry('loop', locations=_ENGINE)
