"""The toolbox logger: console on every rank, a log file on rank 0 only.

Everything logs through the ``dformer_seg`` logger (``dformer_seg/__init__.py``
gives it a console handler). ``setup_logger`` adds the run's log file and
quietens the other MPI ranks so that a multi-process run prints one log.
"""
import logging

from .dist import is_main_process

LOGGER_NAME = 'dformer_seg'
LOG_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


class _RunFileHandler(logging.FileHandler):
    """A file handler that ``setup_logger`` owns (so that a second run replaces it)."""


def get_logger():
    return logging.getLogger(LOGGER_NAME)


def setup_logger(log_file=None, log_level='INFO'):
    """Configure the ``dformer_seg`` logger for one run and return it.

    Rank 0 logs at ``log_level`` and, when ``log_file`` is given, writes it too;
    every other rank logs errors only.
    """
    logger = get_logger()
    level = logging.getLevelName(log_level.upper()) if isinstance(log_level, str) else log_level
    if not isinstance(level, int):
        raise ValueError(f'unknown log_level {log_level!r}; use DEBUG, INFO, WARNING or ERROR')
    for handler in [h for h in logger.handlers if isinstance(h, _RunFileHandler)]:
        logger.removeHandler(handler)
        handler.close()
    if not is_main_process():
        logger.setLevel(logging.ERROR)
        return logger
    logger.setLevel(level)
    if log_file is not None:
        handler = _RunFileHandler(log_file, mode='a')
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    return logger
