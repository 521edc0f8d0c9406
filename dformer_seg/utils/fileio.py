"""Writing files so that a crash never leaves a partial one: :func:`atomic_write`."""
import contextlib
import os
import tempfile

# Temporary files are named ``.<name>.<random>.tmp`` beside their target.
TEMP_SUFFIX = '.tmp'


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode='wb'):
    """Write ``path`` through the file object this yields: the data go to a hidden temporary file in the same
    folder, are flushed to disk (``fsync``) and the file is renamed over ``path`` when the block ends without
    an error. A kill at any moment leaves the previous ``path`` or the complete new one; an error in the block
    removes the temporary file and leaves ``path`` as it was."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes the file private (0600)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def temp_files_of_atomic_writes(directory):
    """The temporary files that killed :func:`atomic_write` calls left directly in ``directory``
    (``.<name>.<random>.tmp``, e.g. ``.epoch_3.pkl.k2j4x8.tmp``)."""
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, entry) for entry in os.listdir(directory)
                  if entry.startswith('.') and entry.endswith(TEMP_SUFFIX) and entry.count('.') >= 3
                  and os.path.isfile(os.path.join(directory, entry)))
