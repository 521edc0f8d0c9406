"""Batches from Jittor's dataset machinery (worker processes, shuffling, drop_last).

Jittor's own ``Dataset`` treats ``batch_size`` as the global batch under MPI
and splits each batch over the processes. Here the configured batch size is
per process, like the rest of the toolbox: the loader replaces Jittor's index
list by its own shard (``sampler.shard_indices``) and keeps Jittor's workers,
ring buffers and iteration.

With workers, Jittor starts the next pass over the data ("round") as soon as
the workers have taken every batch of the current one, possibly in the middle
of an epoch, and hands that round to the next ``iter()``. Each index list
given to the workers therefore belongs to the next epoch in sequence, and the
epoch travels inside the index values (``epoch slot * len(dataset) + index``),
so a sample's augmentation seed never depends on timing. Workers may also
deliver the batches of one epoch out of order (whichever finishes first);
they are put back in order here.
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
import collections
import os

import jittor as jt
import numpy as np

from ..config import ConfigError
from ..utils import dist
from ..utils.jittor_internals import ShardedJittorDataset, has_workers, restart_workers
from .collate import collate_samples
from .errors import DataError
from .pipelines.rng import sample_rng, using_rng
from .sampler import epoch_order, num_batches, padding_positions, shard_indices

_ERROR_KEY = '__data_error__'
_INDEX_KEY = '__encoded_index__'
DEFAULT_BUFFER_SIZE = 512 * 1024 * 1024  # Jittor's default ring buffer per worker (shared memory)


class LoaderOptionError(ConfigError, ValueError):
    """A data loader option is invalid; the message starts with the option's name."""


def shared_random_seed():
    """A random seed, the same on every MPI process (rank 0 draws it)."""
    return dist.broadcast_int(int(np.random.SeedSequence().entropy % (2 ** 31)))


def _tuples(value):
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


class RGBDDataLoader(ShardedJittorDataset):
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
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise LoaderOptionError(f'batch_size must be a positive integer (per process), got {batch_size!r}')
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise LoaderOptionError(f'num_workers must be an integer >= 0, got {num_workers!r}')
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
        self._epoch_slots = max(1, (2 ** 31 - 1) // self.total_len)  # epochs encodable in int32 indices
        self._epoch = 0
        self._next_epoch = 0
        self._top_call_pending = False
        self._last_epoch_complete = True
        self._worker_rounds = collections.deque()  # epochs of the rounds handed to workers, not yet consumed
        self._main_pid = os.getpid()

    # ------------------------------------------------------------------ epochs
    def set_epoch(self, epoch):
        """Make the next ``iter()`` run epoch ``epoch`` (0-based)."""
        self._next_epoch = int(epoch)

    @property
    def epoch(self):
        return self._epoch

    def _expected_round(self):
        """The epoch of the oldest round the workers were given and nobody consumed yet."""
        return self._worker_rounds[0] if self._worker_rounds else None

    def __iter__(self):
        epoch = self._next_epoch
        self._next_epoch = epoch + 1
        if has_workers(self):
            pending = self._expected_round()
            if not self._last_epoch_complete or (pending is not None and pending != epoch):
                # The workers hold batches of another epoch (of an unfinished one, or a
                # prefetched round that set_epoch skipped): start them afresh.
                restart_workers(self)
                self._worker_rounds.clear()
        self._epoch = epoch
        self._top_call_pending = True
        self._last_epoch_complete = False
        return self._run_epoch(super().__iter__())

    def _run_epoch(self, batches):
        batch_of = {int(first): number for number, first in
                    enumerate(self._encode(self.indices(self._epoch), self._epoch)[::self.batch_size])}
        early, expected = {}, 0
        for batch in batches:
            early[batch_of[batch.pop(_INDEX_KEY)[0]]] = batch
            while expected in early:
                yield early.pop(expected)
                expected += 1
        self._last_epoch_complete = True
        if self._worker_rounds:
            self._worker_rounds.popleft()

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
        return self.batches_of(len(self.indices(0)))

    def batches_of(self, num_indices):
        return num_batches(num_indices, self.batch_size, self.drop_last)

    def epoch_index_list(self):
        # Asked at the start of every iter() and, with workers, whenever the workers start
        # a new round; only the lists the workers get are rounds.
        top_call, self._top_call_pending = self._top_call_pending, False
        epoch = self._epoch
        if self.num_workers and not (top_call and has_workers(self)):
            if self._worker_rounds and not top_call:
                epoch = self._worker_rounds[-1] + 1
            self._worker_rounds.append(epoch)
        return self._encode(self.indices(epoch), epoch)

    def _encode(self, indices, epoch):
        return ((epoch % self._epoch_slots) * self.total_len + indices).astype(np.int32)

    # ------------------------------------------------------------------ samples and batches
    def __getitem__(self, encoded_index):
        epoch_slot, index = divmod(int(encoded_index), self.total_len)
        with using_rng(sample_rng(self.seed, epoch_slot, index)):
            try:
                return dict(self.source[index], **{_INDEX_KEY: int(encoded_index)})
            except DataError as exc:
                if os.getpid() == self._main_pid:
                    raise
                # In a worker: hand the message to the main process, which raises it
                # (an exception here would only print and interrupt the main process).
                return {_ERROR_KEY: str(exc), _INDEX_KEY: int(encoded_index)}

    def collate_batch(self, batch):
        encoded = [sample.pop(_INDEX_KEY) for sample in batch]
        for sample in batch:
            if _ERROR_KEY in sample:
                return {_ERROR_KEY: sample[_ERROR_KEY], _INDEX_KEY: encoded}
        return dict(collate_samples(batch), **{_INDEX_KEY: encoded})

    def to_jittor(self, batch):
        if _ERROR_KEY in batch:
            raise DataError(batch[_ERROR_KEY])
        converted = dict(batch)
        # Jittor's worker ring buffer turns tuples into lists; shapes are tuples again here.
        converted['img_metas'] = [_tuples(meta) for meta in batch['img_metas']]
        converted[_INDEX_KEY] = list(batch[_INDEX_KEY])
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
