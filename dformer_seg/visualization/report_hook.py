"""ReportHook: collects what the evaluation report shows during a test run, and writes it (``report.py``).

    runner.register_hook(ReportHook('report/', checkpoint=ckpt))   # or a custom_hooks entry with type=ReportHook
    runner.test()                                                  # -> report/index.html

It ranks the test images by mIoU like :class:`WorstImagesHook` (over all MPI processes; process 0 gathers the
worst ones through files in the work dir), takes the metric's results (confusion matrix, per-class scores,
depth ranges) and writes the page on process 0. Only the first test pass of a runner is reported, so a tool
may run more passes on the same runner (``tools/analysis/robustness.py``) and write the page at the end,
with :meth:`ReportHook.write` and the robustness table.
"""
import os
import shutil

import numpy as np

from ..datasets.io import READ_GRAYSCALE_ANY_DEPTH, read_depth_file
from ..engine.hooks import WorstImagesHook
from ..utils.dist import barrier, is_main_process, rank, world_size
from .palette import default_palette
from .panels import read_sample
from .report import WorstImage, check_report_dir, run_info, write_report

DEFAULT_DEPTH_EDGES_M = (1.0, 2.0, 3.0, 4.0, 5.0)
_GATHER_DIR = '.report_worst_images'


def report_depth_bins(cfg, depth_max_m=10.0, edges_m=DEFAULT_DEPTH_EDGES_M):
    """``dict(depth_bins, depth_scale)`` for the test evaluator, so that the report shows mIoU per depth range in
    metres; {} when the config's test_evaluator already sets depth_bins, or its test set has no depth files.

    The metres per raw depth unit follow from the config's LoadDepthFromFile, with the loaded map's 255 taken as
    ``depth_max_m``: 8-bit files are 0..255 already, 16-bit and float files span ``raw_depth_range`` /
    ``float_depth_range`` (the type is read from the first test depth file).
    """
    from ..datasets.builder import build_dataset

    if (cfg.get('test_evaluator') or {}).get('depth_bins') is not None:
        return {}
    dataset_cfg = dict(cfg.test_dataloader.dataset)
    loader = next((dict(t) for t in dataset_cfg.get('pipeline', []) if dict(t).get('type') == 'LoadDepthFromFile'),
                  None)
    if loader is None or loader.get('color_type', 'grayscale') != 'grayscale':
        return {}
    dataset = build_dataset(dict(dataset_cfg, pipeline=[]))
    path = dataset.get_sample_info(0).get('depth_path')
    if not path:
        return {}
    raw = read_depth_file(path, READ_GRAYSCALE_ANY_DEPTH, 'depth')
    if raw.dtype == np.uint8:
        high = 255.0
    elif raw.dtype == np.uint16:
        high = float(loader.get('raw_depth_range', (0.0, 10000.0))[1])
    else:
        high = float(loader.get('float_depth_range', (0.0, 10.0))[1])
    return dict(depth_bins=[e for e in edges_m if e < depth_max_m], depth_scale=depth_max_m / high)


def inference_mode(test_cfg):
    """A short description of a segmentor's ``test_cfg``: whole image or sliding window, and any test-time
    augmentation."""
    test_cfg = dict(test_cfg or {})
    mode = test_cfg.get('mode', 'whole')
    text = 'whole image' if mode == 'whole' else (
        f'sliding window {tuple(test_cfg.get("crop_size"))}, stride {tuple(test_cfg.get("stride"))}')
    aug = test_cfg.get('aug')
    if aug:
        text += f'; TTA scales {list(aug.get("scales", []))}' + (' + flip' if aug.get('flip') else '')
    return text


class ReportHook(WorstImagesHook):
    """Write the evaluation report of the first test pass to ``out_dir`` (see the module doc).

    Args:
        out_dir: the report folder; refused at once when it holds files, unless ``overwrite``.
        checkpoint: shown in the run table.
        k: the number of worst images shown.
        write_on_test_end: write the page right after the test pass (False: the caller calls :meth:`write`).
        title: the page title.
    """

    def __init__(self, out_dir, checkpoint=None, k=6, overwrite=False, write_on_test_end=True,
                 title='Evaluation report', ignore_index=255):
        check_report_dir(out_dir, overwrite)
        super().__init__(out_dir=out_dir, k=k, ignore_index=ignore_index)
        self.checkpoint = checkpoint
        self.overwrite = overwrite
        self.write_on_test_end = write_on_test_end
        self.title = title
        self.collected = False
        self.results = None
        self.worst_images = []

    def before_test_epoch(self, runner):
        if not self.collected:
            super().before_test_epoch(runner)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.collected:
            super().after_test_iter(runner, batch_idx, data_batch=data_batch, outputs=outputs)

    def after_test_epoch(self, runner, metrics=None):
        if self.collected:
            return
        evaluator = runner.test_loop.evaluator
        if evaluator is None or evaluator.results is None:
            raise KeyError('ReportHook needs the test metric (an IoUMetric test_evaluator); --format-only runs '
                           'have none')
        self.results = evaluator.results
        self.worst_images = self._gather_worst(runner)
        self.collected = True
        if self.write_on_test_end:
            self.write(runner)

    def _gather_worst(self, runner):
        """The worst images of all processes, worst first, on process 0 (files in the work dir carry them)."""
        ranking = self._global_ranking()
        mine = sorted(self._worst, key=lambda entry: (-entry[0], entry[1]))
        folder = os.path.join(runner.work_dir, _GATHER_DIR)
        gathered = {}
        for position, (score, owner, index) in enumerate(ranking):
            if owner != rank():
                continue
            _, _, stem, pred, label, meta = mine[index]
            image, depth = read_sample(meta)
            worst = WorstImage(stem, float(score), image, depth, label, pred)
            if is_main_process():
                gathered[position] = worst
            else:
                os.makedirs(folder, exist_ok=True)
                np.savez(os.path.join(folder, f'{position:03d}.npz'), name=stem, miou=score, image=image,
                         depth=np.zeros(0) if depth is None else depth, label=label, pred=pred)
        if world_size() > 1:
            barrier()
            if is_main_process():
                for position in range(len(ranking)):
                    if position not in gathered:
                        gathered[position] = self._load(os.path.join(folder, f'{position:03d}.npz'))
                shutil.rmtree(folder, ignore_errors=True)
        return [gathered[position] for position in sorted(gathered)]

    @staticmethod
    def _load(path):
        with np.load(path) as data:
            depth = data['depth'] if data['depth'].size else None
            return WorstImage(str(data['name']), float(data['miou']), data['image'], depth, data['label'],
                              data['pred'])

    def write(self, runner, robustness=None):
        """Write the page (process 0; the others return None); ``robustness``: see :func:`write_report`."""
        if not self.collected:
            raise RuntimeError('ReportHook.write: no test pass has run yet')
        if not is_main_process():
            return None
        cfg = runner.cfg
        classes = runner.dataset_meta.get('classes') or runner.test_loop.evaluator.class_names
        palette = runner.dataset_meta.get('palette') or default_palette(len(classes))
        info = run_info(config=getattr(cfg, 'filename', None), checkpoint=self.checkpoint,
                        inference=inference_mode(getattr(runner.model, 'test_cfg', None)),
                        processes=world_size(), work_dir=runner.work_dir)
        path = write_report(self.out_dir, self.results, classes, palette, info=info,
                            depth_rows=self.results.get('depth'), worst_images=self.worst_images,
                            robustness=robustness, title=self.title, overwrite=self.overwrite,
                            ignore_index=self.ignore_index)
        runner.logger.info(f'evaluation report written to {path}')
        return path
