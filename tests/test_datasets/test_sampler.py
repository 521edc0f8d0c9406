import numpy as np
import pytest

from dformer_seg.datasets.collate import collate_samples
from dformer_seg.datasets.sampler import epoch_order, num_batches, padding_positions, shard_indices


def test_epoch_order_is_shared_and_changes_per_epoch():
    np.testing.assert_array_equal(epoch_order(5, False, 0, 3), np.arange(5))
    a, b = epoch_order(50, True, 7, 0), epoch_order(50, True, 7, 0)
    np.testing.assert_array_equal(a, b)  # every process computes the same order
    assert sorted(a) == list(range(50)) and not np.array_equal(a, epoch_order(50, True, 7, 1))
    assert not np.array_equal(a, epoch_order(50, True, 8, 0))


@pytest.mark.parametrize('num_samples,batch_size,world_size', [(20, 2, 2), (23, 3, 2), (7, 1, 3), (5, 4, 1)])
def test_training_shards_are_disjoint_whole_global_batches(num_samples, batch_size, world_size):
    order = epoch_order(num_samples, True, 0, 0)
    shards = [shard_indices(order, batch_size, r, world_size, drop_last=True) for r in range(world_size)]
    steps = num_samples // (batch_size * world_size)
    assert all(len(s) == steps * batch_size for s in shards)  # batch_size is per process
    merged = np.concatenate(shards)
    assert len(set(merged.tolist())) == len(merged)  # no sample on two processes
    for step in range(steps):  # step k of all processes = global batch k of the shared order
        together = np.concatenate([s[step * batch_size:(step + 1) * batch_size] for s in shards])
        global_batch = order[step * batch_size * world_size:(step + 1) * batch_size * world_size]
        assert sorted(together.tolist()) == sorted(global_batch.tolist())


@pytest.mark.parametrize('num_samples,world_size', [(10, 2), (11, 2), (10, 3), (1, 4)])
def test_evaluation_shards_cover_everything_and_mark_repeats(num_samples, world_size):
    order = epoch_order(num_samples, False, 0, 0)
    shards = [shard_indices(order, 2, r, world_size, drop_last=False) for r in range(world_size)]
    assert len({len(s) for s in shards}) == 1  # same number of steps everywhere
    kept = []
    for rank, shard in enumerate(shards):
        repeats = padding_positions(num_samples, rank, world_size, drop_last=False)
        kept += [int(i) for k, i in enumerate(shard) if k not in repeats]
    assert sorted(kept) == list(range(num_samples))  # each sample exactly once
    assert num_batches(len(shards[0]), 2, False) == -(-len(shards[0]) // 2)


def test_shard_argument_errors():
    with pytest.raises(ValueError, match='rank'):
        shard_indices(np.arange(4), 1, 2, 2, True)
    with pytest.raises(ValueError, match='batch_size'):
        shard_indices(np.arange(4), 0, 0, 1, True)


def test_collate_pads_different_sizes_and_keeps_metadata():
    def sample(h, w, idx):
        return dict(img=np.ones((3, h, w), np.float32), depth=np.ones((1, h, w), np.float32),
                    gt_seg=np.zeros((h, w), np.int32), img_metas=dict(sample_idx=idx, ori_shape=(h, w)))
    batch = collate_samples([sample(4, 6, 0), sample(5, 3, 1)])
    assert batch['img'].shape == (2, 3, 5, 6) and batch['depth'].shape == (2, 1, 5, 6)
    assert batch['gt_seg'].shape == (2, 5, 6) and batch['gt_seg'][0, 4].tolist() == [255] * 6
    assert batch['img'][1, :, :, 3:].sum() == 0
    assert [m['sample_idx'] for m in batch['img_metas']] == [0, 1]
    assert batch['img_metas'][1]['ori_shape'] == (5, 3) and batch['img_metas'][0]['batch_input_shape'] == (5, 6)
    with pytest.raises(ValueError, match='different keys'):
        collate_samples([sample(4, 6, 0), dict(img=np.ones((3, 4, 6), np.float32))])
