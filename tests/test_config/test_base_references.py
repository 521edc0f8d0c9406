"""``{{_base_.xxx}}``: a config builds on its bases' values instead of restating them."""
import textwrap

import pytest

from dformer_seg.config import Config, ConfigError


def write(tmp_path, name, source):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return str(path)


@pytest.fixture
def bases(tmp_path):
    write(tmp_path, 'base/data.py', """
        crop_size = (4, 6)
        norm = dict(mean=[1.0], std=[2.0])
        pipeline = [dict(type='Load'), dict(type='Crop', size=crop_size), dict(type='Pack')]
        loader = dict(batch_size=2, dataset=dict(pipeline=pipeline))
        """)
    write(tmp_path, 'base/model.py', "model = dict(type='Seg', head=dict(channels=8))\n")
    return tmp_path


def test_references_read_every_base_and_nested_values(bases, tmp_path):
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


def test_references_see_grandparents_and_copy_the_value(bases, tmp_path):
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


def test_a_missing_key_names_the_file_the_line_and_the_closest_keys(bases, tmp_path):
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


def test_cfg_options_override_a_referenced_value(bases, tmp_path):
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
