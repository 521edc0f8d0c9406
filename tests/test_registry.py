import pytest

from dformer_seg.registry import Registry


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


def test_bad_configs():
    registry, _ = make_registry()
    with pytest.raises(KeyError, match='no "type"'):
        registry.build(dict(size=1))
    with pytest.raises(TypeError, match='expects a dict'):
        registry.build('Button')
    with pytest.raises(TypeError, match='building Button failed'):
        registry.build(dict(type='Button', weight=3))
