import argparse
import os
import subprocess
import sys
import textwrap

import pytest

from dformer_seg.config import Config, ConfigError, DictAction, parse_value

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(tmp_path, name, source):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return str(path)


@pytest.fixture
def three_levels(tmp_path):
    write(tmp_path, 'base/model.py', """
        model = dict(type='Seg', backbone=dict(type='A', depth=4, dims=[1, 2]), head=dict(channels=8))
        optimizer = dict(type='AdamW', lr=0.1, betas=(0.9, 0.999))
        """)
    write(tmp_path, 'base/data.py', """
        crop = (4, 6)
        pipeline = [dict(type='Load'), dict(type='Crop', size=crop)]
        """)
    write(tmp_path, 'child.py', """
        _base_ = ['base/model.py', 'base/data.py']
        model = dict(backbone=dict(depth=8, dims=[3]))
        optimizer = dict(_delete_=True, type='SGD', lr=0.01)
        _helper = 'not a key'
        """)
    return write(tmp_path, 'sub/grandchild.py', """
        _base_ = '../child.py'
        model = dict(head=dict(channels=16))
        """)


def test_three_level_inheritance(three_levels):
    cfg = Config.fromfile(three_levels)
    assert cfg.model.type == 'Seg'
    assert cfg.model.backbone.depth == 8          # child over base
    assert cfg.model.backbone.dims == [3]         # lists replace, not merge
    assert cfg.model.backbone.type == 'A'         # dicts merge
    assert cfg.model.head.channels == 16          # grandchild over child
    assert cfg.optimizer.to_dict() == {'type': 'SGD', 'lr': 0.01}  # _delete_ replaced the base dict
    assert cfg.pipeline[1]['size'] == (4, 6)
    assert '_helper' not in cfg and '_base_' not in cfg


def test_missing_key_raises(three_levels):
    cfg = Config.fromfile(three_levels)
    with pytest.raises(AttributeError, match="modle"):
        cfg.modle
    with pytest.raises(AttributeError, match="no key 'depht'"):
        cfg.model.backbone.depht
    with pytest.raises(KeyError):
        cfg['modle']
    assert cfg.get('modle', 'fallback') == 'fallback'


def test_duplicate_key_in_sibling_bases(tmp_path):
    write(tmp_path, 'a.py', 'lr = 1\n')
    write(tmp_path, 'b.py', 'lr = 2\n')
    child = write(tmp_path, 'c.py', "_base_ = ['a.py', 'b.py']\n")
    with pytest.raises(ConfigError, match=r"c\.py: lr is set in two _base_ files, .*a\.py and .*b\.py"):
        Config.fromfile(child)


def test_sibling_bases_merge_their_dicts_but_not_one_setting(tmp_path):
    write(tmp_path, 'model.py', "model = dict(type='M', head=dict(classes=3))\n")
    write(tmp_path, 'recipe.py', "model = dict(test_cfg=dict(mode='slide'))\nseed = 0\n")
    child = write(tmp_path, 'c.py', "_base_ = ['model.py', 'recipe.py']\nmodel = dict(head=dict(classes=4))\n")
    cfg = Config.fromfile(child)
    assert cfg.model == dict(type='M', head=dict(classes=4), test_cfg=dict(mode='slide')) and cfg.seed == 0
    write(tmp_path, 'other.py', "model = dict(head=dict(classes=5))\n")
    clash = write(tmp_path, 'd.py', "_base_ = ['model.py', 'other.py']\n")
    with pytest.raises(ConfigError, match=r'model\.head\.classes is set in two _base_ files, .*model\.py and '
                                          r'.*other\.py'):
        Config.fromfile(clash)


def test_missing_base_and_circular(tmp_path):
    child = write(tmp_path, 'c.py', "_base_ = 'nope.py'\n")
    with pytest.raises(FileNotFoundError, match='nope.py'):
        Config.fromfile(child)
    write(tmp_path, 'x.py', "_base_ = 'y.py'\n")
    loop = write(tmp_path, 'y.py', "_base_ = 'x.py'\n")
    with pytest.raises(ConfigError, match='circular'):
        Config.fromfile(loop)


def test_syntax_error_names_the_file(tmp_path):
    bad = write(tmp_path, 'bad.py', 'model = dict(\n')
    with pytest.raises(ConfigError, match='bad.py'):
        Config.fromfile(bad)


def test_cfg_options_typed_and_list_index(three_levels):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args(['--cfg-options', 'model.backbone.depth=12', 'optimizer.lr=0.5',
                              'model.backbone.dims=[1,2,3]', 'pipeline.1.size=(8,8)', 'pipeline.0.flag=true',
                              'name=abc', 'seed=None', 'gpus=0,1'])
    cfg = Config.fromfile(three_levels)
    cfg.merge_from_dict(args.cfg_options)
    assert cfg.model.backbone.depth == 12
    assert cfg.optimizer.lr == 0.5
    assert cfg.model.backbone.dims == [1, 2, 3]
    assert cfg.pipeline[1]['size'] == (8, 8)
    assert cfg.pipeline[1]['type'] == 'Crop'
    assert cfg.pipeline[0]['flag'] is True
    assert cfg.name == 'abc' and cfg.seed is None and cfg.gpus == [0, 1]
    with pytest.raises(ConfigError, match='out of range'):
        cfg.merge_from_dict({'pipeline.5.size': 1})
    with pytest.raises(ConfigError, match='must be a number'):
        cfg.merge_from_dict({'pipeline.first.size': 1})


def test_parse_value():
    assert parse_value('1') == 1 and isinstance(parse_value('1.5'), float)
    assert parse_value('False') is False and parse_value('none') is None
    assert parse_value("'x'") == 'x' and parse_value('x') == 'x'
    assert parse_value('[1,[2,3]]') == [1, [2, 3]]


def test_parse_value_lists_of_bare_words_as_mmengine():
    # Before: '[mIOU]' stayed the string '[mIOU]'.
    assert parse_value('[mIOU]') == ['mIOU'] and parse_value('[mIoU,mDice]') == ['mIoU', 'mDice']
    assert parse_value('(a,b)') == ('a', 'b') and parse_value('a,b') == ['a', 'b'] and parse_value('0,1') == [0, 1]
    assert parse_value('[(a,b),(c,1)]') == [('a', 'b'), ('c', 1)] and parse_value('[x,[y,none]]') == ['x', ['y', None]]
    assert parse_value('[]') == [] and parse_value('(8,8)') == (8, 8) and parse_value('1e-4') == 1e-4


def test_dump_reloads_equal(three_levels, tmp_path):
    cfg = Config.fromfile(three_levels)
    text = cfg.pretty_text
    assert 'backbone=dict(' in text
    out = str(tmp_path / 'dumped.py')
    cfg.dump(out)
    assert Config.fromfile(out) == cfg


def test_custom_imports(tmp_path, monkeypatch):
    package = tmp_path / 'my_ext'
    package.mkdir()
    (package / '__init__.py').write_text(textwrap.dedent("""
        from dformer_seg.registry import BACKBONES

        @BACKBONES.register_module(force=True)
        class MyTestBackbone:
            def __init__(self, width=1):
                self.width = width
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    config = write(tmp_path, 'cfg.py', """
        custom_imports = dict(imports=['my_ext'])
        backbone = dict(type='MyTestBackbone', width=3)
        """)
    cfg = Config.fromfile(config)
    from dformer_seg.registry import BACKBONES
    assert BACKBONES.build(cfg.backbone).width == 3

    broken = write(tmp_path, 'broken.py', "custom_imports = dict(imports=['no_such_module_xyz'])\n")
    with pytest.raises(ConfigError, match="could not import 'no_such_module_xyz'"):
        Config.fromfile(broken)
    # The tools load first and import once Jittor is set up on the config's device.
    deferred = Config.fromfile(broken, import_custom_modules=False)
    with pytest.raises(ConfigError, match="could not import 'no_such_module_xyz'"):
        deferred.import_custom_modules()


def test_print_config_tool(three_levels):
    result = subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'misc', 'print_config.py'), three_levels,
                             '--cfg-options', 'model.head.channels=3'],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'channels=3' in result.stdout and "type='SGD'" in result.stdout


# ---------------------------------------------------------------- {{_base_.xxx}} references
@pytest.fixture
def reference_bases(tmp_path):
    write(tmp_path, 'base/data.py', """
        crop_size = (4, 6)
        norm = dict(mean=[1.0], std=[2.0])
        pipeline = [dict(type='Load'), dict(type='Crop', size=crop_size), dict(type='Pack')]
        loader = dict(batch_size=2, dataset=dict(pipeline=pipeline))
        """)
    write(tmp_path, 'base/model.py', "model = dict(type='Seg', head=dict(channels=8))\n")
    return tmp_path


def test_references_read_every_base_and_nested_values(reference_bases, tmp_path):
    child = write(tmp_path, 'child.py', """
        _base_ = ['base/data.py', 'base/model.py']
        pipeline = [dict(type='Load', rgb=True)] + {{_base_.pipeline}}[1:]
        loader = dict(dataset=dict(pipeline=pipeline))
        model = dict(head=dict(channels={{_base_.model.head.channels}} * 2, norm=dict(**{{ _base_.norm }})))
        crop = {{_base_.pipeline.1.size}}
        custom_keys = ['crop']
        """)
    cfg = Config.fromfile(child)
    assert [step['type'] for step in cfg.pipeline] == ['Load', 'Crop', 'Pack'] and cfg.pipeline[0]['rgb']
    assert cfg.loader.dataset.pipeline == cfg.pipeline and cfg.loader.batch_size == 2
    assert cfg.model.head.channels == 16 and cfg.model.head.norm.to_dict() == {'mean': [1.0], 'std': [2.0]}
    assert cfg.crop == (4, 6)  # the value itself, a tuple, not a placeholder string


def test_references_see_grandparents_and_copy_the_value(reference_bases, tmp_path):
    write(tmp_path, 'middle.py', """
        _base_ = 'base/data.py'
        pipeline = {{_base_.pipeline}}
        pipeline.append(dict(type='Extra'))  # a copy: the grandparent's loader keeps its list
        """)
    leaf = write(tmp_path, 'sub/leaf.py', """
        _base_ = '../middle.py'
        loader = dict(dataset=dict(pipeline={{_base_.pipeline}}[:-1]))
        crop_size = {{_base_.loader.dataset.pipeline.1.size}}
        """)
    cfg = Config.fromfile(leaf)
    assert [step['type'] for step in cfg.pipeline] == ['Load', 'Crop', 'Pack', 'Extra']
    assert [step['type'] for step in cfg.loader.dataset.pipeline] == ['Load', 'Crop', 'Pack']
    assert cfg.crop_size == (4, 6)


def test_a_missing_key_names_the_file_the_line_and_the_closest_keys(reference_bases, tmp_path):
    child = write(tmp_path, 'child.py', """
        _base_ = ['base/data.py', 'base/model.py']
        loader = dict(dataset=dict(pipeline={{_base_.pipline}}))
        """)
    with pytest.raises(ConfigError, match=r"child\.py, line 3: \{\{_base_\.pipline\}\}: the _base_ files define no "
                                          r"key 'pipline'; did you mean 'pipeline'"):
        Config.fromfile(child)
    nested = write(tmp_path, 'nested.py', """
        _base_ = 'base/model.py'
        model = dict(head=dict(channels={{_base_.model.head.chanels}}))
        """)
    with pytest.raises(ConfigError, match=r"_base_\.model\.head has no key 'chanels'; did you mean 'channels'"):
        Config.fromfile(nested)
    index = write(tmp_path, 'index.py', "_base_ = 'base/data.py'\nstep = {{_base_.pipeline.7}}\n")
    with pytest.raises(ConfigError, match='_base_.pipeline is a list of length 3'):
        Config.fromfile(index)
    orphan = write(tmp_path, 'orphan.py', 'pipeline = {{_base_.pipeline}}\n')
    with pytest.raises(ConfigError, match="orphan.py, line 1: .*the file has no _base_"):
        Config.fromfile(orphan)
    computed = write(tmp_path, 'computed.py', "_base_ = ['base/' + 'data.py']\n")
    with pytest.raises(ConfigError, match='computed.py, line 1: _base_ must be a literal'):
        Config.fromfile(computed)
    hidden = write(tmp_path, 'hidden.py', "if True:\n    _base_ = 'base/data.py'\n")
    with pytest.raises(ConfigError, match='hidden.py: _base_ must be assigned once, at the top level'):
        Config.fromfile(hidden)


def test_cfg_options_override_a_referenced_value(reference_bases, tmp_path):
    child = write(tmp_path, 'child.py', """
        _base_ = 'base/data.py'
        pipeline = {{_base_.pipeline}}[:2]
        loader = dict(dataset=dict(pipeline=pipeline))
        """)
    cfg = Config.fromfile(child)
    cfg.merge_from_dict({'loader.dataset.pipeline.1.size': (8, 8), 'pipeline.0.type': 'LoadRGB'})
    assert cfg.loader.dataset.pipeline[1]['size'] == (8, 8)
    assert cfg.pipeline[0]['type'] == 'LoadRGB'
    # References were resolved when the file was loaded: an option changes one place only.
    assert cfg.pipeline[1]['size'] == (4, 6) and cfg.loader.dataset.pipeline[0]['type'] == 'Load'
    reloaded = tmp_path / 'dumped.py'
    cfg.dump(str(reloaded))
    assert Config.fromfile(str(reloaded)) == cfg  # a dumped config holds values, no references
