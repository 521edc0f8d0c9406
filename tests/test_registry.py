import pytest

from dformer_seg.config import ConfigError
from dformer_seg.registry import ComponentConfigError, Registry, UnknownTypeError


def make_registry():
    registry = Registry('widget')

    @registry.register_module()
    class Button:
        def __init__(self, size=1, color='red'):
            self.size, self.color = size, color

    @registry.register_module(name='Knob')
    class _Knob(Button):
        pass

    return registry, Button


def test_build_with_defaults_and_deep_copy():
    registry, button_cls = make_registry()
    cfg = dict(type='Button', size=dict(w=3))
    obj = registry.build(cfg, color='blue')
    assert isinstance(obj, button_cls) and obj.color == 'blue'
    obj.size['w'] = 99
    assert cfg == dict(type='Button', size=dict(w=3))    # caller's config untouched
    assert registry.build(dict(type='Button', color='green'), color='blue').color == 'green'
    assert registry.build(dict(type='Knob')).size == 1
    assert registry.build(dict(type=button_cls, size=5)).size == 5   # a class as type


def test_duplicate_and_force():
    registry, button_cls = make_registry()

    class Other:
        pass

    with pytest.raises(KeyError, match='already registered'):
        registry.register_module(name='Button', module=Other)
    registry.register_module(name='Button', module=Other, force=True)
    assert registry.get('Button') is Other


def test_unknown_type_names_registry_and_close_matches():
    registry, _ = make_registry()
    with pytest.raises(KeyError) as info:
        registry.build(dict(type='Buton'))
    message = str(info.value)
    assert 'widget' in message and 'Did you mean: Button' in message
    # A user error (one line in the tools), printed without KeyError's quotes.
    assert isinstance(info.value, (UnknownTypeError, ConfigError)) and message.startswith("'Buton' is not registered")


def test_bad_configs():
    registry, _ = make_registry()
    with pytest.raises(KeyError, match='no "type"'):
        registry.build(dict(size=1))
    with pytest.raises(TypeError, match='expects a dict'):
        registry.build('Button')
    with pytest.raises(ComponentConfigError, match=r"^widget Button has no argument 'weight' \(it takes color, size\)$"):
        registry.build(dict(type='Button', weight=3))


def test_argument_errors_name_the_component_and_the_closest_argument():
    registry = Registry('widget')

    @registry.register_module()
    class Base:
        def __init__(self, num_classes, channels=4):
            if channels < 1:
                raise ValueError(f'channels must be >= 1, got {channels}')

    @registry.register_module()
    class Derived(Base):  # its **kwargs go to Base
        def __init__(self, depth=2, **kwargs):
            super().__init__(**kwargs)

    @registry.register_module()
    class Outer:
        def __init__(self, inner):
            registry.build(inner)

    with pytest.raises(ConfigError, match=r"^widget Derived has no argument 'num_clases'; did you mean 'num_classes'"):
        registry.build(dict(type='Derived', num_clases=3))
    with pytest.raises(TypeError, match=r'^widget Base needs the argument\(s\) num_classes$'):
        registry.build(dict(type='Base'))
    # A value the constructor refuses (a plain ValueError) is a config error naming the component.
    with pytest.raises(ConfigError, match=r'^widget Derived: channels must be >= 1, got 0$') as info:
        registry.build(dict(type='Derived', num_classes=3, channels=0))
    assert isinstance(info.value, ValueError)
    # The error of a part is raised as it is, not wrapped again by each enclosing component.
    with pytest.raises(ConfigError, match=r"^widget Base has no argument 'colour'"):
        registry.build(dict(type='Outer', inner=dict(type='Base', num_classes=1, colour=2)))
    assert isinstance(registry.build(dict(type='Derived', num_classes=3, depth=1)), Derived)


def test_registries_import_their_modules_in_a_fresh_interpreter():
    import subprocess
    import sys
    code = ('from dformer_seg.registry import BACKBONES, DATASETS, HOOKS, METRICS, PIPELINES\n'
            'import sys\n'
            "assert 'dformer_seg.models' not in sys.modules\n"
            "model = BACKBONES.build(dict(type='DFormer', arch='tiny'))\n"
            "print(type(model).__name__, 'NYUDepthV2Dataset' in DATASETS, 'CheckpointHook' in HOOKS,\n"
            "      METRICS.get('IoUMetric') is not None, len(PIPELINES) > 5)\n"
            'try:\n'
            "    BACKBONES.build(dict(type='DFormr'))\n"
            'except KeyError as error:\n'
            '    print(error)\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == 'DFormer True True True True'
    assert 'Did you mean: DFormer' in lines[1]


def test_locations_are_imported_once_and_registering_does_not_trigger_it(monkeypatch):
    imported = []
    monkeypatch.setattr('importlib.import_module', lambda name: imported.append(name))
    registry = Registry('gadget', locations=('some.package',))

    @registry.register_module()
    class Gadget:
        pass
    assert imported == []
    assert 'Gadget' in registry and registry.get('Gadget') is Gadget and len(registry) == 1
    assert imported == ['some.package']
