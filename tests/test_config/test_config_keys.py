"""Top-level config keys that nothing reads are errors (a mistyped key used to be ignored silently)."""
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
def test_every_shipped_config_uses_known_keys(path):
    check_top_level_keys(Config.fromfile(path))


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
