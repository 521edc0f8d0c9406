"""Which samples each process loads, in which order (pure numpy, testable without MPI).

The batch size of a config is per process. Every process computes the same
epoch order from (seed, epoch) and takes every ``world_size``-th sample
starting at its rank, so at each step the processes together load one
global batch of ``batch_size * world_size`` distinct samples.
"""
import numpy as np


def epoch_order(num_samples, shuffle, seed, epoch):
    """The sample order of one epoch, identical on every process."""
    if not shuffle:
        return np.arange(num_samples, dtype=np.int64)
    return np.random.default_rng([int(seed), int(epoch)]).permutation(num_samples)


def shard_indices(order, batch_size, rank, world_size, drop_last):
    """The indices process ``rank`` loads, in order.

    ``drop_last``: keep only whole global batches (training). Otherwise every
    sample is loaded; when the count does not divide by ``world_size``, the
    first samples of the order are repeated so that all processes run the
    same number of steps (an evaluator removes the repeats by ``sample_idx``).
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f'invalid rank {rank} for world_size {world_size}')
    if batch_size < 1:
        raise ValueError(f'batch_size must be positive, got {batch_size}')
    order = np.asarray(order, dtype=np.int64)
    if drop_last:
        global_batch = batch_size * world_size
        order = order[:len(order) // global_batch * global_batch]
    elif len(order) % world_size:
        missing = world_size - len(order) % world_size
        order = np.concatenate([order, np.resize(order, missing)])
    return order[rank::world_size]


def num_batches(num_indices, batch_size, drop_last):
    if drop_last:
        return num_indices // batch_size
    return -(-num_indices // batch_size)


def padding_positions(num_samples, rank, world_size, drop_last):
    """Positions, in process ``rank``'s order, of the repeated samples that
    ``shard_indices`` added (``drop_last=False``); an evaluator skips them so that
    every sample counts once over all processes."""
    if drop_last or num_samples % world_size == 0:
        return set()
    per_process = -(-num_samples // world_size)
    return {k for k in range(per_process) if rank + k * world_size >= num_samples}
