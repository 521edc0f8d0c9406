from dformer_seg.engine import Hook, Runner

from toy import ToyLoader, toy_runner_kwargs


class PaddedLoader(ToyLoader):
    """Pretends that its 4th sample (position 3) is an MPI padding repeat."""

    def duplicate_positions(self):
        return {3}


def test_val_loop_skips_padding_repeats_of_the_loader(tmp_path):
    runner = Runner(**toy_runner_kwargs(tmp_path, val_dataloader=PaddedLoader(num=4, batch_size=2)))
    seen = []

    class Spy(Hook):
        def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            seen.append([meta['img_path'] for meta in data_batch['img_metas']])

    runner.register_hook(Spy())
    metrics = runner.val()
    assert runner.val_loop.evaluator.num_samples == 3
    assert seen == [['/nonexistent/img_000.png', '/nonexistent/img_001.png'], ['/nonexistent/img_002.png']]
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc', 'fwIoU'}
