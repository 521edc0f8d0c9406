"""Top-level config keys: a near-miss of a known key is an error (a mistyped key used to be ignored silently),
other new keys (helper variables) get one warning."""
import glob
import os
import textwrap

import pytest

from dformer_seg.config import Config, ConfigError, check_option_keys, check_top_level_keys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config_from(tmp_path, source):
    path = tmp_path / 'cfg.py'
    path.write_text(textwrap.dedent(source))
    return Config.fromfile(str(path))


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(REPO, 'configs', '**', '*.py'), recursive=True)
                                        + glob.glob(os.path.join(REPO, 'projects', '*', 'configs', '*.py'))))
def test_every_shipped_config_uses_known_keys(path, caplog):
    check_top_level_keys(Config.fromfile(path))
    assert not caplog.records  # no warning either


def test_helper_variables_of_a_users_config_are_one_warning(tmp_path, caplog):
    # Before: "unknown top-level config key 'classes'" for a config written the mmseg way.
    cfg = config_from(tmp_path, """
        classes = ['road', 'car']
        norm_cfg = dict(type='BN')
        img_norm_cfg = dict(mean=[0, 0, 0])
        model = dict(type='X', num_classes=len(classes))
        """)
    check_top_level_keys(cfg)
    check_top_level_keys(cfg)  # the Runner checks again: still one warning
    warnings = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
    assert len(warnings) == 1 and "'classes', 'img_norm_cfg', 'norm_cfg' are not read by the toolbox" in warnings[0]
    check_option_keys({'my_flag': 1}, cfg)
    assert "--cfg-options: top-level key(s) 'my_flag'" in caplog.records[-1].getMessage()
    with pytest.raises(ConfigError, match="'classs'; did you mean 'classes'"):
        check_option_keys({'classs': ['a']}, cfg)


@pytest.mark.parametrize('typo, meant', [('trian_dataloader', 'train_dataloader'), ('work_dirs', 'work_dir'),
                                         ('optim_wraper', 'optim_wrapper'), ('defualt_hooks', 'default_hooks')])
def test_near_misses_of_read_keys_are_errors(tmp_path, typo, meant):
    with pytest.raises(ConfigError, match=f"'{typo}'; did you mean '{meant}'"):
        check_top_level_keys(config_from(tmp_path, f'{typo} = 1\n'))


def test_a_mistyped_key_in_a_file_names_the_file_and_the_closest_keys(tmp_path):
    cfg = config_from(tmp_path, """
        model = dict(type='X')
        train_dataloder = dict(batch_size=2)
        """)
    with pytest.raises(ConfigError, match=r"cfg\.py: unknown top-level config key 'train_dataloder'; did you mean "
                                          r"'train_dataloader'"):
        check_top_level_keys(cfg)


def test_a_mistyped_option_is_named_before_it_is_merged(tmp_path):
    cfg = config_from(tmp_path, "train_dataloader = dict(batch_size=8)\n")
    with pytest.raises(ConfigError, match=r"--cfg-options train_dataloder\.batch_size=?.*'train_dataloader'"):
        check_option_keys({'train_dataloder.batch_size': 2}, cfg)
    check_option_keys({'train_dataloader.batch_size': 2, 'seed': 0}, cfg)  # known keys pass
    # After a merge the stray key is caught by the file check too (what Runner.from_cfg runs).
    cfg.merge_from_dict({'train_dataloder.batch_size': 2})
    with pytest.raises(ConfigError, match='train_dataloder'):
        check_top_level_keys(cfg)


def test_custom_keys_declare_a_configs_own_keys(tmp_path):
    cfg = config_from(tmp_path, """
        custom_keys = ['my_setting']
        my_setting = 3
        _local_helper = 'never a key'
        """)
    check_top_level_keys(cfg)
    check_option_keys({'my_setting': 4}, cfg)
    with pytest.raises(ConfigError, match="'my_settings'; did you mean 'my_setting'"):
        check_option_keys({'my_settings': 4}, cfg)
    # An option may declare a key together with its value.
    check_option_keys({'custom_keys': ['extra'], 'extra': 1}, cfg)
    with pytest.raises(ConfigError, match='custom_keys must be a list'):
        check_top_level_keys(config_from(tmp_path, 'custom_keys = [1]\n'))
