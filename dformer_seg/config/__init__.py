from .config import Config, ConfigDict, ConfigError, merge_a_into_b, to_plain
from .keys import KNOWN_KEYS, check_option_keys, check_top_level_keys
from .options import DictAction, parse_value

__all__ = ['Config', 'ConfigDict', 'ConfigError', 'DictAction', 'KNOWN_KEYS', 'check_option_keys',
           'check_top_level_keys', 'merge_a_into_b', 'parse_value', 'to_plain']
