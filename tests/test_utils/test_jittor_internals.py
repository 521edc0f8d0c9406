"""Each reliance on undocumented Jittor behaviour (dformer_seg/utils/jittor_internals.py), checked against the
installed Jittor: a Jittor release that changes one fails here, naming it."""
import jittor as jt
import numpy as np
import pytest

from dformer_seg.utils import jittor_internals as internals


def test_the_version_check_names_what_is_missing(monkeypatch):
    internals.check_jittor_version()  # the installed one
    with pytest.raises(RuntimeError, match=r'knows for Jittor 1\.3\.x; this is Jittor 1\.4\.0 .*checked on Jittor '
                                           r'1\.3\.11'):
        internals.check_jittor_version('1.4.0')
    monkeypatch.delattr(internals.JittorDataset, 'reset')
    with pytest.raises(RuntimeError, match=r'\(missing: Dataset\.reset\)'):
        internals.check_jittor_version()


def test_adam_keeps_its_moments_and_gradients_in_the_param_groups_and_backward_counts_steps():
    weight = jt.array(np.array([1.0, -2.0, 3.0], np.float32))
    optimizer = jt.optim.AdamW([weight], lr=0.1, betas=(0.9, 0.99), weight_decay=0.0)
    optimizer.backward((weight * jt.array(np.array([1.0, 2.0, 3.0], np.float32))).sum())
    assert optimizer.n_step == 1  # counted by backward
    internals.undo_step_count(optimizer)
    assert optimizer.n_step == 0
    optimizer.backward((weight * jt.array(np.array([1.0, 2.0, 3.0], np.float32))).sum())
    params, grads, first, second = internals.adam_state(optimizer.param_groups[0])
    assert params[0] is weight
    gradient = 2 * np.array([1.0, 2.0, 3.0])  # backward adds to the gradients until a step (accumulation)
    np.testing.assert_allclose(grads[0].numpy(), gradient)
    optimizer.step()
    np.testing.assert_allclose(first[0].numpy(), 0.1 * gradient, rtol=1e-6)  # (1 - beta1) g
    np.testing.assert_allclose(second[0].numpy(), 0.01 * gradient ** 2, rtol=1e-5)  # (1 - beta2) g^2
    assert internals.ADAM_STATE_SLOTS == ('m', 'values') and all(s in optimizer.param_groups[0]
                                                                 for s in internals.ADAM_STATE_SLOTS)


def test_compile_flags_reach_the_kernel_compiler():
    out = jt.code((1,), 'int32', [], cpu_src='''
        #ifndef DFORMER_SEG_FLAGS_PROBE
        #define DFORMER_SEG_FLAGS_PROBE -1
        #endif
        @out(0) = DFORMER_SEG_FLAGS_PROBE;
    ''')
    internals.add_compile_flags(out, '-DDFORMER_SEG_FLAGS_PROBE=7')
    assert out.numpy()[0] == 7


class Numbers(internals.ShardedJittorDataset):
    """0..9 in an order of our choosing, batches of 2."""

    def __init__(self, num_workers):
        super().__init__(batch_size=2, num_workers=num_workers, buffer_size=1 << 20)
        self.total_len = 10
        self.order_requests = 0

    def epoch_index_list(self):
        self.order_requests += 1
        return np.arange(9, -1, -1, dtype=np.int32)

    def batches_of(self, num_indices):
        return -(-num_indices // self.batch_size)

    def __getitem__(self, index):
        return np.array([index], np.int32)


@pytest.mark.parametrize('num_workers', [0, 1])
def test_the_loader_takes_our_sample_order_and_its_workers_can_be_restarted(num_workers):
    loader = Numbers(num_workers)
    values = [int(v) for batch in loader for v in batch.numpy().reshape(-1)]
    assert values == list(range(9, -1, -1)) and loader.order_requests >= 1
    assert internals.has_workers(loader) == bool(num_workers)
    if num_workers:
        internals.restart_workers(loader)
        assert not internals.has_workers(loader)
        assert [int(v) for batch in loader for v in batch.numpy().reshape(-1)] == list(range(9, -1, -1))
