"""Registries that map config ``type`` names to classes.

Every buildable component (backbone, head, dataset, transform, hook, ...) is
registered in one of the registries below and built from a config dict::

    @BACKBONES.register_module()
    class MyBackbone(nn.Module): ...

    backbone = BACKBONES.build(dict(type='MyBackbone', depth=4))
"""
import copy
import difflib
import inspect


class Registry:
    """A name -> class (or function) table with a config-driven ``build``."""

    def __init__(self, name):
        self.name = name
        self._module_dict = {}

    def __len__(self):
        return len(self._module_dict)

    def __contains__(self, key):
        return key in self._module_dict

    def __repr__(self):
        return f'Registry(name={self.name}, items={sorted(self._module_dict)})'

    @property
    def module_dict(self):
        return dict(self._module_dict)

    def get(self, key):
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


BACKBONES = Registry('backbone')
NECKS = Registry('neck')
HEADS = Registry('head')
LOSSES = Registry('loss')
SEGMENTORS = Registry('segmentor')
DATASETS = Registry('dataset')
PIPELINES = Registry('pipeline')
HOOKS = Registry('hook')
OPTIMIZERS = Registry('optimizer')
SCHEDULERS = Registry('scheduler')
METRICS = Registry('metric')
LOOPS = Registry('loop')
