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

A config that names an unregistered type, an argument the component does not
take or a value its constructor refuses (``ValueError``) is a user error: the
message names the registry, the component type and the argument (with the
closest names), and the tools print it as one line.
"""
import copy
import difflib
import importlib
import inspect

from .config import ConfigError


class UnknownTypeError(ConfigError, KeyError):
    """A config's ``type`` is not registered (also a KeyError, for a caller that looks types up)."""

    __str__ = ConfigError.__str__  # not KeyError's quoted form


class ComponentConfigError(ConfigError, TypeError, ValueError):
    """A component refused the arguments of its config: an unknown or missing argument (also a TypeError,
    as Python's own call error), or a value its constructor refused (also a ValueError)."""


def accepted_arguments(obj_cls):
    """``(names, required)``: the keyword arguments a class (its ``__init__``, following ``**kwargs`` to the
    base classes' ``__init__``) or function accepts, names None when any name goes; ``required`` are the
    ones without a default in its own signature."""
    if inspect.isclass(obj_cls):
        functions = [vars(k)['__init__'] for k in obj_cls.__mro__ if '__init__' in vars(k) and k is not object]
        skip = 1  # self
    else:
        functions, skip = [obj_cls], 0
    names, required = set(), set()
    for depth, function in enumerate(functions):
        try:
            parameters = list(inspect.signature(function).parameters.values())[skip:]
        except (TypeError, ValueError):  # a builtin without a signature
            return None, required
        keywords = [p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        names.update(p.name for p in keywords)
        if depth == 0:
            required = {p.name for p in keywords if p.default is p.empty}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            return names, required
    return None, required  # **kwargs all the way up: anything may be read from them


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
        return UnknownTypeError(f"'{type_name}' is not registered in registry {self.name}.{hint} "
                                f'Registered: {known}')

    def _check_arguments(self, obj_cls, args):
        names, required = accepted_arguments(obj_cls)
        what = f'{self.name} {getattr(obj_cls, "__name__", obj_cls)}'
        if names is not None:
            for key in args:
                if key not in names:
                    close = difflib.get_close_matches(key, sorted(names), n=3, cutoff=0.6)
                    hint = (f'; did you mean {" or ".join(repr(k) for k in close)}?' if close
                            else f' (it takes {", ".join(sorted(names)) or "no arguments"})')
                    raise ComponentConfigError(f'{what} has no argument {key!r}{hint}')
        missing = sorted(required - set(args))
        if missing:
            raise ComponentConfigError(f'{what} needs the argument(s) {", ".join(missing)}')

    def build(self, cfg, **default_args):
        """Build ``cfg['type']`` with the remaining keys as keyword arguments.

        ``cfg`` is deep-copied first, so the caller's config is never changed.
        ``type`` may be a registered name or a class. ``default_args`` fill in
        keys the config does not set. Raises :class:`UnknownTypeError` or
        :class:`ComponentConfigError` for a config the component cannot take.
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
        self._check_arguments(obj_cls, args)
        try:
            return obj_cls(**args)
        except ValueError as exc:
            if type(exc) is not ValueError:  # a ComponentConfigError of a part, a DataError, ...
                raise
            raise ComponentConfigError(f'{self.name} {getattr(obj_cls, "__name__", obj_cls)}: {exc}') from exc


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
