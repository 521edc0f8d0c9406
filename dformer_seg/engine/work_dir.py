"""One training run per work dir: :class:`WorkDirLock` and :class:`WorkDirError`.

A training run holds an exclusive ``fcntl.flock`` on ``work_dir/.lock`` for its lifetime; the file names the
owner (pid, host, start time). The operating system drops the lock when its process dies, so a lock file
left by a killed run is stale: the next run takes it over and says so. A run that ends (or fails) removes
the file. Under MPI only rank 0 takes the lock and tells the other ranks whether it got it.
"""
import fcntl
import os
import socket
import time

from ..utils import dist

LOCK_FILE = '.lock'


class WorkDirError(FileExistsError):
    """The work dir cannot be used by this run: it holds another run's checkpoints, another run is training
    in it, or it is not a directory."""


def _owner_line():
    return (f'pid {os.getpid()} on host {socket.gethostname()}, started '
            f'{time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())}')


class WorkDirLock:
    """``acquire()`` / ``release()`` the lock of ``work_dir`` (creating the folder if needed)."""

    def __init__(self, work_dir, logger=None):
        self.work_dir = work_dir
        self.path = os.path.join(work_dir, LOCK_FILE)
        self.logger = logger
        self.created_work_dir = False
        self._fd = None

    def acquire(self):
        """Take the lock (rank 0) or learn that rank 0 took it; raise :class:`WorkDirError` naming the owner
        when another run holds it. Every MPI rank raises when rank 0 could not take it."""
        failure = None
        if dist.is_main_process():
            try:
                self._acquire_here()
            except WorkDirError as exc:
                failure = exc
        if dist.broadcast_int(0 if failure is None else 1):
            raise failure or WorkDirError(f'{self.work_dir} is in use by another training run (see the error of '
                                          f'MPI rank 0)')
        return self

    def _acquire_here(self):
        if os.path.exists(self.work_dir) and not os.path.isdir(self.work_dir):
            raise WorkDirError(f'work dir {self.work_dir} exists but is not a directory; choose another --work-dir')
        if not os.path.exists(self.work_dir):
            os.makedirs(self.work_dir, exist_ok=True)
            self.created_work_dir = True
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise WorkDirError(
                    f'{self.work_dir} is in use by another training run ({owner or "owner unknown"}); wait for it '
                    f'to finish or stop it, or choose another --work-dir') from None
            # A run that ended removed the file between our open and flock: lock the file now at the path.
            if _same_file(fd, self.path):
                break
            os.close(fd)
        stale = _read_owner(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, (_owner_line() + '\n').encode(), 0)
        self._fd = fd
        if stale and self.logger is not None:
            self.logger.info(f'took over the lock of {self.work_dir} from a run that no longer runs ({stale})')

    def release(self, remove_new_work_dir=False):
        """Drop the lock and remove its file; ``remove_new_work_dir``: also remove the work dir if this lock
        created it and it is empty (a run that failed while setting up)."""
        if self._fd is None:
            return
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None
        if remove_new_work_dir and self.created_work_dir:
            try:
                os.rmdir(self.work_dir)
            except OSError:  # not empty: something else was written there
                pass

    @property
    def held(self):
        return self._fd is not None


def _read_owner(fd):
    try:
        return os.pread(fd, 1024, 0).decode(errors='replace').strip()
    except OSError:
        return ''


def _same_file(fd, path):
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
