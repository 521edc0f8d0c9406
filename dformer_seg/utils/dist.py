"""Process-group facts under MPI (``mpirun -np N``); a single process is rank 0 of 1."""
import jittor as jt


def rank():
    return jt.rank if jt.in_mpi else 0


def world_size():
    return jt.world_size if jt.in_mpi else 1


def is_main_process():
    return rank() == 0
