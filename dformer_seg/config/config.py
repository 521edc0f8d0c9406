"""Python config files with ``_base_`` inheritance.

A config file is a Python module; every top-level name that does not start
with ``_`` (and is not a module, function or class) becomes a key. Rules:

* ``_base_`` (a path or a list of paths, relative to the file) names configs to
  inherit. Bases are merged side by side: their dicts merge (a model base's
  ``model`` and a recipe's ``model = dict(test_cfg=...)``), but the same
  setting in two sibling bases is an error, as there is no order between them.
  The child is then merged over them.
* Dicts merge recursively; every other value (lists included) replaces.
  ``_delete_=True`` inside a child dict replaces the base dict instead.
* ``{{_base_.name}}`` (also ``{{_base_.model.backbone}}``, ``{{_base_.train_pipeline.0}}``)
  anywhere in an expression is a copy of the value that the merged bases give
  that key, so that a child builds on a base's value instead of restating it
  (``[step] + {{_base_.test_pipeline}}[1:]``). References are resolved once,
  when the file is loaded (``--cfg-options`` change the resolved values), and
  ``_base_`` must be a literal (a path or a list of paths): it is read first.
* A missing key raises (``cfg.modle`` is an error, not ``None``).
* ``custom_imports = dict(imports=['pkg.module', ...])`` imports user modules
  (so that their ``register_module`` calls run) when the file is loaded.
* Loading accepts any key; ``keys.check_top_level_keys`` (run by the Runner
  and the tools) refuses keys that nothing reads, unless listed in ``custom_keys``.
"""
import ast
import copy
import difflib
import importlib
import os
import os.path as osp
import re
import sys
import types
import uuid
import warnings

from addict import Dict

BASE_KEY = '_base_'
DELETE_KEY = '_delete_'
RESERVED_KEYS = ('filename', 'text', 'pretty_text')
# ``{{_base_.a.b.0}}``: a dotted path of keys and list indices into the merged bases.
BASE_REFERENCE = re.compile(r'\{\{\s*_base_\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)\s*\}\}')
BASE_VALUE_FUNCTION = '__dformer_seg_base_value__'  # what a reference becomes in the executed source


class ConfigError(Exception):
    """A config file or option is invalid."""


class ConfigDict(Dict):
    """An ``addict.Dict`` whose missing keys raise instead of returning empty dicts."""

    def __missing__(self, name):
        raise KeyError(name)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except KeyError:
            raise AttributeError(f"config has no key '{name}'; available keys: "
                                 f'{", ".join(sorted(map(str, self.keys()))) or "(none)"}') from None


def to_plain(value):
    """Config containers (recursively) as plain dicts, lists and tuples, numpy arrays as lists: what a
    checkpoint or a dumped config may hold."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if type(value).__module__ == 'numpy' and hasattr(value, 'tolist'):
        return value.tolist()
    return value


def merge_a_into_b(a, b, path=''):
    """Return ``b`` updated with ``a``: dicts merge recursively, other values replace."""
    b = dict(b)
    for key, value in a.items():
        where = f'{path}.{key}' if path else str(key)
        if isinstance(value, dict):
            value = dict(value)
            delete = value.pop(DELETE_KEY, False)
            if not delete and isinstance(b.get(key), dict):
                b[key] = merge_a_into_b(value, b[key], where)
                continue
            b[key] = _strip_delete_keys(value)
        else:
            b[key] = value
    return b


def _strip_delete_keys(value):
    if isinstance(value, dict):
        return {k: _strip_delete_keys(v) for k, v in value.items() if k != DELETE_KEY}
    if isinstance(value, list):
        return [_strip_delete_keys(v) for v in value]
    return value


def _merge_sibling(base_dict, merged, owner, base_path, filename, path=()):
    """Merge one base into the bases merged so far (in place): dicts merge key by key; a setting that two
    bases both give is a ConfigError naming them (``owner`` records which base gave each setting)."""
    for key, value in base_dict.items():
        where = path + (key,)
        if key not in merged:
            merged[key] = value
            owner[where] = base_path
        elif isinstance(value, dict) and isinstance(merged[key], dict) and DELETE_KEY not in value:
            merged[key] = dict(merged[key])
            _merge_sibling(value, merged[key], owner, base_path, filename, where)
        else:
            first = next(owner[where[:n]] for n in range(len(where), 0, -1) if where[:n] in owner)
            raise ConfigError(f'{filename}: {".".join(map(str, where))} is set in two _base_ files, {first} and '
                              f'{base_path}; a setting may come from one base only')


def _base_paths(tree, filename):
    """The paths of a file's top-level ``_base_ = ...``, read before the file runs (so it must be a literal)."""
    bases = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BASE_KEY for t in node.targets):
            try:
                bases = ast.literal_eval(node.value)
            except ValueError:
                raise ConfigError(f'{filename}, line {node.lineno}: _base_ must be a literal path or list of '
                                  f'paths (it is read before the file runs)') from None
    paths = _as_path_list(bases)
    if paths is None:
        raise ConfigError(f'{filename}: _base_ must be a path or a list of paths, got {bases!r}')
    return paths


def _as_path_list(bases):
    """``_base_`` as a list of paths, or None when it is neither a path nor a list of paths."""
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, (list, tuple)) or not all(isinstance(b, str) for b in bases):
        return None
    return list(bases)


def _substitute_base_references(source):
    """Replace each ``{{_base_.a.b}}`` by a call that returns that value (on the same line, for error messages)."""
    def call(match):
        line = source.count('\n', 0, match.start()) + 1
        return f'{BASE_VALUE_FUNCTION}({match.group(1)!r}, {line})'
    return BASE_REFERENCE.sub(call, source)


def _base_value_reader(merged_bases, filename, has_bases):
    """The function a reference calls: a copy of the value at a dotted path of the merged bases."""
    def base_value(dotted, line):
        where = f'{filename}, line {line}: {{{{_base_.{dotted}}}}}'
        if not has_bases:
            raise ConfigError(f'{where} refers to a base, but the file has no _base_')
        node, walked = merged_bases, BASE_KEY
        for part in dotted.split('.'):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise ConfigError(f'{where}: {_missing_part_message(node, part, walked)}')
            walked = f'{walked}.{part}'
        return copy.deepcopy(node)
    return base_value


def _missing_part_message(node, part, walked):
    if isinstance(node, (list, tuple)):
        return f'{walked} is a list of length {len(node)}; {part!r} is not an index of it'
    if not isinstance(node, dict):
        return f'{walked} is a {type(node).__name__}, not a dict or list; it has no {part!r}'
    names = sorted(map(str, node))
    close = difflib.get_close_matches(part, names, n=3, cutoff=0.6)
    hint = (f'; did you mean {" or ".join(repr(k) for k in close)}?' if close
            else f' (its keys: {", ".join(names) or "none"})')
    local = ' (names that start with "_" are local to their file)' if part.startswith('_') else ''
    scope = 'the _base_ files define' if walked == BASE_KEY else f'{walked} has'
    return f'{scope} no key {part!r}{hint}{local}'


def _import_custom_modules(custom_imports, filename):
    if not isinstance(custom_imports, dict) or 'imports' not in custom_imports:
        raise ConfigError(f'{filename}: custom_imports must be dict(imports=[...]), got {custom_imports!r}')
    names = custom_imports['imports']
    names = [names] if isinstance(names, str) else list(names)
    allow_failed = custom_imports.get('allow_failed_imports', False)
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            message = (f'{filename}: custom_imports could not import {name!r}: {exc}. '
                       f'Run from the repository root or add its parent folder to PYTHONPATH '
                       f'(sys.path: {sys.path})')
            if allow_failed:
                warnings.warn(message)
            else:
                raise ConfigError(message) from exc


class Config:
    """A merged configuration with attribute access.

    >>> cfg = Config.fromfile('configs/dformerv2/dformerv2_s_nyu.py')
    >>> cfg.model.backbone.type
    'DFormerv2'
    """

    def __init__(self, cfg_dict=None, filename=None, text=''):
        cfg_dict = {} if cfg_dict is None else cfg_dict
        if not isinstance(cfg_dict, dict):
            raise TypeError(f'cfg_dict must be a dict, got {type(cfg_dict).__name__}')
        for key in cfg_dict:
            if key in RESERVED_KEYS:
                raise ConfigError(f'{filename or "config"}: {key!r} is a reserved key')
        super().__setattr__('_cfg_dict', ConfigDict(cfg_dict))
        super().__setattr__('_filename', filename)
        super().__setattr__('_text', text)

    # ---------------------------------------------------------------- loading
    @staticmethod
    def fromfile(filename, import_custom_modules=True):
        filename = osp.abspath(osp.expanduser(str(filename)))
        cfg_dict, text = Config._file_to_dict(filename, chain=())
        cfg_dict = _strip_delete_keys(cfg_dict)
        cfg = Config(cfg_dict, filename=filename, text=text)
        if import_custom_modules:
            cfg.import_custom_modules()
        return cfg

    def import_custom_modules(self):
        """Import the modules of ``custom_imports`` (``fromfile`` does, unless told not to: the tools load a
        config first, set Jittor up on its device, then import the user's modules, which may import Jittor)."""
        if self.get('custom_imports'):
            _import_custom_modules(self.to_dict()['custom_imports'], self.filename)

    @staticmethod
    def _file_to_dict(filename, chain):
        if not osp.isfile(filename):
            where = f' (a _base_ of {chain[-1]})' if chain else ''
            raise FileNotFoundError(f'config file not found: {filename}{where}')
        if not filename.endswith('.py'):
            raise ConfigError(f'{filename}: only .py config files are supported')
        if filename in chain:
            raise ConfigError(f'circular _base_ inheritance: {" -> ".join(chain + (filename,))}')
        with open(filename, encoding='utf-8') as f:
            source = f.read()
        try:
            tree = ast.parse(_substitute_base_references(source), filename)
        except SyntaxError as exc:
            raise ConfigError(f'syntax error in config {filename}, line {exc.lineno}: {exc.msg}') from exc

        # The bases are loaded before the file runs, so that its {{_base_.xxx}} references can read them.
        merged_bases, owner = {}, {}
        texts = []
        bases = _base_paths(tree, filename)
        for base in bases:
            base_path = osp.abspath(osp.join(osp.dirname(filename), base))
            base_dict, base_text = Config._file_to_dict(base_path, chain + (filename,))
            _merge_sibling(base_dict, merged_bases, owner, base_path, filename)
            texts.append(base_text)

        module_name = f'_dformer_seg_cfg_{uuid.uuid4().hex}'
        namespace = {'__file__': filename, '__name__': module_name,
                     BASE_VALUE_FUNCTION: _base_value_reader(merged_bases, filename, has_bases=bool(texts))}
        exec(compile(tree, filename, 'exec'), namespace)  # a config is trusted Python, like a script
        if _as_path_list(namespace.get(BASE_KEY, [])) != bases:
            raise ConfigError(f'{filename}: _base_ must be assigned once, at the top level of the file, to a '
                              f'literal (it is read before the file runs)')
        cfg_dict = {
            key: value for key, value in namespace.items()
            if not key.startswith('_') and not isinstance(value, (types.ModuleType, types.FunctionType, type))
        }
        text = f'# {filename}\n{source}'
        if not texts:
            return cfg_dict, text
        merged = merge_a_into_b(cfg_dict, merged_bases)
        return merged, '\n'.join(texts + [text])

    @staticmethod
    def fromstring(source, filename='<string>.py'):
        """Build a config from Python source (``_base_`` is resolved relative to cwd)."""
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, osp.basename(filename))
            with open(path, 'w', encoding='utf-8') as f:
                f.write(source)
            return Config.fromfile(path)

    # ---------------------------------------------------------------- access
    @property
    def filename(self):
        return self._filename

    @property
    def text(self):
        return self._text

    def __getattr__(self, name):
        return getattr(self._cfg_dict, name)

    def __getitem__(self, name):
        return self._cfg_dict[name]

    def __setattr__(self, name, value):
        if isinstance(value, dict):
            value = ConfigDict(value)
        self._cfg_dict.__setattr__(name, value)

    def __setitem__(self, name, value):
        self.__setattr__(name, value)

    def __contains__(self, name):
        return name in self._cfg_dict

    def __iter__(self):
        return iter(self._cfg_dict)

    def __len__(self):
        return len(self._cfg_dict)

    def __eq__(self, other):
        other_dict = other.to_dict() if isinstance(other, Config) else other
        return self.to_dict() == other_dict

    def __repr__(self):
        return f'Config (path: {self.filename}): {self.to_dict()}'

    def get(self, key, default=None):
        return self._cfg_dict.get(key, default)

    def keys(self):
        return self._cfg_dict.keys()

    def items(self):
        return self._cfg_dict.items()

    def to_dict(self):
        return to_plain(self._cfg_dict.to_dict())

    def copy(self):
        return Config(copy.deepcopy(self.to_dict()), filename=self.filename, text=self.text)

    # ---------------------------------------------------------------- overrides
    def merge_from_dict(self, options):
        """Merge dotted-key options, e.g. ``{'model.backbone.depth': 50, 'pipeline.1.prob': 0}``.

        A digit component indexes into an existing list.
        """
        tree = self.to_dict()
        for dotted, value in options.items():
            parts = dotted.split('.')
            node = tree
            for depth, part in enumerate(parts[:-1]):
                node = self._child(node, part, parts[:depth + 1], create=True)
            last = parts[-1]
            if isinstance(node, list):
                index = self._list_index(node, last, parts)
                node[index] = value
            elif isinstance(value, dict) and isinstance(node.get(last), dict):
                node[last] = merge_a_into_b(value, node[last])
            else:
                node[last] = value
        super().__setattr__('_cfg_dict', ConfigDict(tree))

    @staticmethod
    def _list_index(node, part, parts):
        if not part.isdigit():
            raise ConfigError(f'option {".".join(parts)}: {part!r} indexes a list and must be a number')
        index = int(part)
        if index >= len(node):
            raise ConfigError(f'option {".".join(parts)}: index {index} is out of range for a list '
                              f'of length {len(node)}')
        return index

    def _child(self, node, part, parts, create):
        if isinstance(node, list):
            return node[self._list_index(node, part, parts)]
        if not isinstance(node, dict):
            raise ConfigError(f'option {".".join(parts)}: {".".join(parts[:-1])} is a '
                              f'{type(node).__name__}, not a dict or list')
        if part not in node:
            if not create:
                raise ConfigError(f'option {".".join(parts)}: no key {part!r}')
            node[part] = {}
        if isinstance(node[part], tuple):
            node[part] = list(node[part])
        return node[part]

    # ---------------------------------------------------------------- output
    @property
    def pretty_text(self):
        """The merged config as formatted Python source that reloads to an equal config."""
        lines = [f'{key} = {_format_value(value)}' for key, value in self.to_dict().items()]
        text = '\n'.join(lines) + '\n'
        try:
            from yapf.yapflib.yapf_api import FormatCode
            text, _ = FormatCode(text, style_config=dict(based_on_style='pep8', column_limit=100,
                                                         blank_line_before_nested_class_or_def=True))
        except (ImportError, SyntaxError, ValueError) as exc:  # keep the valid unformatted text
            warnings.warn(f'yapf could not format the config ({exc}); printing it unformatted')
        return text

    def dump(self, path):
        path = str(path)
        if not path.endswith('.py'):
            raise ConfigError(f'configs are dumped as .py files, got {path}')
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(self.pretty_text)


def _format_value(value):
    if isinstance(value, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in value):
            inner = ', '.join(f'{k}={_format_value(v)}' for k, v in value.items())
            return f'dict({inner})'
        inner = ', '.join(f'{k!r}: {_format_value(v)}' for k, v in value.items())
        return '{' + inner + '}'
    if isinstance(value, list):
        return '[' + ', '.join(_format_value(v) for v in value) + ']'
    if isinstance(value, tuple):
        body = ', '.join(_format_value(v) for v in value)
        return f'({body},)' if len(value) == 1 else f'({body})'
    if isinstance(value, float) and value != value:
        return "float('nan')"
    if isinstance(value, float) and value in (float('inf'), float('-inf')):
        return f"float('{value}')"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return repr(value)
    raise ConfigError(f'cannot write a config value of type {type(value).__name__}: {value!r}')
