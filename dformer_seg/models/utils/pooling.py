import numpy as np


def adaptive_pool_matrix(in_size, out_size):
    """(out_size, in_size) matrix whose rows average PyTorch's adaptive-pooling bins.

    Bin ``i`` covers ``[floor(i * in / out), ceil((i + 1) * in / out))``; bins may
    overlap and repeat input cells when ``out_size > in_size``. Jittor's own adaptive
    pooling uses equal windows instead, which differs for uneven sizes, so the models
    pool with products of these matrices.
    """
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix
