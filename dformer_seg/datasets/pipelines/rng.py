"""The random generator that random transforms draw from.

A data loader runs each sample's pipeline inside ``using_rng(...)`` with a
generator seeded from (seed, epoch, sample index), so augmentations do not
depend on the number of worker processes or on which MPI rank loads a sample.
Outside of that (a transform called by hand), each process has its own
generator from OS entropy; a forked worker never reuses its parent's stream.
"""
import contextlib
import os
import threading

import numpy as np

_local = threading.local()
_process_default = {'pid': None, 'rng': None}


def current_rng():
    rng = getattr(_local, 'rng', None)
    if rng is not None:
        return rng
    if _process_default['pid'] != os.getpid():
        _process_default.update(pid=os.getpid(), rng=np.random.default_rng())
    return _process_default['rng']


@contextlib.contextmanager
def using_rng(rng):
    """Make ``rng`` (a ``np.random.Generator``) the current generator inside the block."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f'using_rng expects a numpy Generator, got {type(rng).__name__}')
    previous = getattr(_local, 'rng', None)
    _local.rng = rng
    try:
        yield rng
    finally:
        _local.rng = previous


def sample_rng(seed, epoch, index):
    """The generator for one sample in one epoch."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])
