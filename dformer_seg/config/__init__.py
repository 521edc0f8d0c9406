from .config import Config, ConfigDict, ConfigError, merge_a_into_b
from .options import DictAction, parse_value

__all__ = ['Config', 'ConfigDict', 'ConfigError', 'DictAction', 'merge_a_into_b', 'parse_value']
