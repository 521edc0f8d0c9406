"""The toolbox logger: console on every rank, a log file on rank 0 only.

Everything logs through the ``dformer_seg`` logger. Importing the package gives it
only a ``NullHandler``; the tools (``cli.setup``) and the Runner (``setup_logger``)
add the console handler, and ``setup_logger`` adds the run's log file and
quietens the other MPI ranks so that a multi-process run prints one log.
"""
import logging
import sys

LOGGER_NAME = 'dformer_seg'
LOG_FORMAT = '%(asctime)s - %(name)s - %(levelname)s - %(message)s'


class _ConsoleHandler(logging.StreamHandler):
    """The process's own stderr (``sys.__stderr__``): a temporary replacement of ``sys.stderr`` (a test's
    capture, a redirect) may be closed while the handler lives on."""

    def __init__(self):
        super().__init__(sys.__stderr__)
        self.setFormatter(logging.Formatter(LOG_FORMAT))


def ensure_console_handler():
    """Give the ``dformer_seg`` logger its console handler (once) and INFO level unless one is set."""
    logger = get_logger()
    if not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        logger.addHandler(_ConsoleHandler())
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return logger


class _RunFileHandler(logging.FileHandler):
    """A file handler that ``setup_logger`` owns (so that a second run replaces it)."""


def get_logger():
    return logging.getLogger(LOGGER_NAME)


def setup_logger(log_file=None, log_level='INFO'):
    """Configure the ``dformer_seg`` logger for one run and return it.

    Rank 0 logs at ``log_level`` and, when ``log_file`` is given, writes it too;
    every other rank logs errors only.
    """
    from .dist import is_main_process  # imports Jittor; ensure_console_handler must not
    logger = ensure_console_handler()
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
