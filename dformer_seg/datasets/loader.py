"""Batches from Jittor's dataset machinery (worker processes, shuffling, drop_last).

Jittor's own ``Dataset`` treats ``batch_size`` as the global batch under MPI
and splits each batch over the processes. Here the configured batch size is
per process, like the rest of the toolbox: the loader replaces Jittor's index
list by its own shard (``sampler.shard_indices``) and keeps Jittor's workers,
ring buffers and iteration.
"""
import multiprocessing as mp
import os

import jittor as jt
import numpy as np
from jittor.dataset import Dataset as JittorDataset

from ..utils import dist
from .collate import collate_samples
from .errors import DataError
from .pipelines.rng import sample_rng, using_rng
from .sampler import epoch_order, num_batches, padding_positions, shard_indices

_ERROR_KEY = '__data_error__'
DEFAULT_BUFFER_SIZE = 512 * 1024 * 1024  # Jittor's default ring buffer per worker (shared memory)


def shared_random_seed():
    """A random seed, the same on every MPI process (rank 0 draws it)."""
    seed = int(np.random.SeedSequence().entropy % (2 ** 31))
    if jt.in_mpi:
        seed = int(jt.array(np.array([seed], dtype=np.int32)).mpi_broadcast(0).numpy()[0])
    return seed


def _tuples(value):
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


class RGBDDataLoader(JittorDataset):
    """Iterate batches ``dict(img, depth, gt_seg, img_metas)`` of a data set.

    ``batch_size`` is per process. Process ``rank`` of ``world_size`` (from MPI
    unless given) loads its own shard of each epoch's order; all processes
    use the same ``seed``, so their shards never overlap. Each sample's
    random augmentations come from a generator seeded with (seed, epoch,
    sample index), so a batch is the same whatever ``num_workers`` is.
    The epoch advances on each ``iter()``; ``set_epoch`` pins it (resume).
    """

    def __init__(self, dataset, batch_size, num_workers=0, shuffle=False, drop_last=False, seed=None,
                 rank=None, world_size=None, buffer_size=DEFAULT_BUFFER_SIZE):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be a positive int (per process), got {batch_size!r}')
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f'num_workers must be an int >= 0, got {num_workers!r}')
        super().__init__(batch_size=batch_size, shuffle=bool(shuffle), drop_last=bool(drop_last),
                         num_workers=num_workers, buffer_size=int(buffer_size))
        self.source = dataset
        self.rank = dist.rank() if rank is None else int(rank)
        self.world_size = dist.world_size() if world_size is None else int(world_size)
        self.seed = shared_random_seed() if seed is None else int(seed)
        if len(dataset) == 0:
            raise DataError(f'{dataset!r} has no samples')
        global_batch = batch_size * self.world_size
        if self.drop_last and len(dataset) < global_batch:
            raise DataError(f'{dataset!r} has {len(dataset)} samples, fewer than one batch of {batch_size} x '
                            f'{self.world_size} process(es); lower batch_size or set drop_last=False')
        self.total_len = len(dataset)
        self._epoch = 0
        self._next_epoch = 0
        self._shared_epoch = mp.RawValue('q', 0)  # forked workers read the current epoch here
        self._main_pid = os.getpid()

    # ------------------------------------------------------------------ epochs
    def set_epoch(self, epoch):
        """Make the next ``iter()`` run epoch ``epoch`` (0-based)."""
        self._next_epoch = int(epoch)

    @property
    def epoch(self):
        return self._epoch

    def __iter__(self):
        self._epoch = self._next_epoch
        self._next_epoch += 1
        return super().__iter__()

    # ------------------------------------------------------------------ sharding
    def indices(self, epoch):
        """The sample indices this process loads in ``epoch``, in order."""
        order = epoch_order(self.total_len, self.shuffle, self.seed, epoch)
        return shard_indices(order, self.batch_size, self.rank, self.world_size, self.drop_last)

    def duplicate_positions(self):
        """Positions (0-based, in this process's sample order) of samples repeated only to
        give every process the same number of batches; evaluation skips them."""
        return padding_positions(self.total_len, self.rank, self.world_size, self.drop_last)

    @property
    def metainfo(self):
        return self.source.metainfo

    def __len__(self):
        """Batches per epoch on this process."""
        return num_batches(len(self.indices(0)), self.batch_size, self.drop_last)

    def _get_index_list(self):
        # Replaces Jittor's version (which splits a global batch over MPI processes).
        index_list = self.indices(self._epoch)
        self._shared_epoch.value = self._epoch
        self.real_len = len(index_list)
        self.real_batch_size = self.batch_size
        self.batch_len = num_batches(self.real_len, self.batch_size, self.drop_last)
        return index_list

    # ------------------------------------------------------------------ samples and batches
    def __getitem__(self, index):
        with using_rng(sample_rng(self.seed, self._shared_epoch.value, index)):
            try:
                return self.source[index]
            except DataError as exc:
                if os.getpid() == self._main_pid:
                    raise
                # In a worker: hand the message to the main process, which raises it
                # (an exception here would only print and interrupt the main process).
                return {_ERROR_KEY: str(exc)}

    def collate_batch(self, batch):
        for sample in batch:
            if _ERROR_KEY in sample:
                return {_ERROR_KEY: sample[_ERROR_KEY]}
        return collate_samples(batch)

    def to_jittor(self, batch):
        if _ERROR_KEY in batch:
            raise DataError(batch[_ERROR_KEY])
        converted = dict(batch)
        # Jittor's worker ring buffer turns tuples into lists; shapes are tuples again here.
        converted['img_metas'] = [_tuples(meta) for meta in batch['img_metas']]
        if self.keep_numpy_array:
            return converted
        for key, value in batch.items():
            if isinstance(value, np.ndarray):
                converted[key] = jt.array(value).stop_grad() if self.stop_grad else jt.array(value)
        return converted

    def __repr__(self):
        return (f'{type(self).__name__}({self.source!r}, batch_size={self.batch_size} per process, '
                f'rank {self.rank}/{self.world_size}, num_workers={self.num_workers}, shuffle={self.shuffle}, '
                f'drop_last={self.drop_last}, seed={self.seed})')
