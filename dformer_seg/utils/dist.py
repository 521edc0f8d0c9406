"""Everything MPI (``mpirun -np N``) in one place; in a single process each call is the identity (rank 0 of 1).

Nothing else in the package checks ``jt.in_mpi`` itself.
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
import jittor as jt
import numpy as np


def rank():
    return jt.rank if jt.in_mpi else 0


def world_size():
    return jt.world_size if jt.in_mpi else 1


def is_main_process():
    return rank() == 0


def all_reduce_sum(array):
    """Sum a numpy array over all MPI processes (a copy of it in a single process).

    Reduced in float64: Jittor's MPI op maps int64 to the wrong MPI type, and
    float64 holds integer counts exactly up to 2**53.
    """
    array = np.asarray(array)
    if not jt.in_mpi:
        return array.copy()
    summed = jt.array(array.astype(np.float64)).mpi_all_reduce('add').numpy()
    return summed.astype(array.dtype) if np.issubdtype(array.dtype, np.integer) else summed


def all_reduce_mean(var):
    """The mean of a ``jt.Var`` over all processes (the Var itself in a single process)."""
    return var.mpi_all_reduce('mean') if jt.in_mpi else var


def broadcast_int(value):
    """Rank 0's ``value`` (an int32-range int) on every process."""
    if not jt.in_mpi:
        return int(value)
    return int(jt.array(np.array([value], dtype=np.int32)).mpi_broadcast(0).numpy()[0])


def broadcast_parameters(model):
    """Give every process rank 0's weights (a no-op in a single process)."""
    if jt.in_mpi:
        model.mpi_param_broadcast(0)


def barrier():
    """Wait until every MPI process gets here (a no-op in a single process)."""
    all_reduce_sum([0.0])
