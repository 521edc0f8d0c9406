from dformer_seg.engine.loops import mpi_duplicate_positions


def test_no_duplicates_when_the_last_batch_splits_evenly():
    for rank in range(2):
        assert mpi_duplicate_positions(6, 2, 2, rank) == set()
        assert mpi_duplicate_positions(5, 2, 2, rank, drop_last=True) == set()


def test_shifted_last_share_is_marked_on_the_higher_rank_only():
    # 5 samples, global batch 2 on 2 ranks: the 5th sample goes to both ranks (rank 1's share shifts back).
    assert mpi_duplicate_positions(5, 2, 2, 0) == set()
    assert mpi_duplicate_positions(5, 2, 2, 1) == {2}
    # 7 samples, global batch 4: the last 3 are split [0, 2) and shifted [1, 3): sample 1 is repeated.
    assert mpi_duplicate_positions(7, 4, 2, 0) == set()
    assert mpi_duplicate_positions(7, 4, 2, 1) == {2}
    # 3 ranks, 4 samples, batch 3: the single last sample is on every rank.
    assert [mpi_duplicate_positions(4, 3, 3, r) for r in range(3)] == [set(), {1}, {1}]
