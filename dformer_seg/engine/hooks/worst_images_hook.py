import heapq
import os

import numpy as np

from ...registry import HOOKS
from ...utils.dist import all_reduce_sum, rank, world_size
from .hook import Hook


def image_miou(pred, label, num_classes, ignore_index=255):
    """mIoU (percent) of one image over the classes in its label or prediction; None without labelled pixels."""
    from ...evaluation import confusion_matrix, metrics_from_confusion

    matrix = confusion_matrix(pred, label, num_classes, ignore_index)
    if matrix.sum() == 0:
        return None
    return float(metrics_from_confusion(matrix)[0]['mIoU'])


@HOOKS.register_module()
class WorstImagesHook(Hook):
    """Writes the ``k`` test images with the lowest per-image mIoU as RGB | depth | label | prediction panels.

    Files are ``<out_dir>/<rank in the ranking>_<image stem>.png`` (``00_`` is the
    worst), with the image's mIoU in the prediction's title; the ranking is
    also logged. Images without a labelled pixel are skipped. Under MPI the
    ranking covers all processes; each process writes its own images.
    """

    priority = 'LOW'

    def __init__(self, out_dir, k=8, ignore_index=255):
        if not isinstance(k, int) or k < 1:
            raise ValueError(f'k (the number of worst images) must be a positive int, got {k!r}')
        self.out_dir = out_dir
        self.k = k
        self.ignore_index = ignore_index
        self._worst = []  # max-heap by mIoU (negated) of (-miou, order, stem, pred, label, meta)
        self._seen = 0
        self.ranking = []

    def before_test_epoch(self, runner):
        classes = runner.dataset_meta.get('classes')
        if not classes:
            raise KeyError('WorstImagesHook needs the class names of the test set (dataset metainfo classes)')
        self._num_classes = len(classes)
        self._worst, self._seen, self.ranking = [], 0, []

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if 'gt_seg' not in data_batch:
            raise KeyError('WorstImagesHook needs labels: the test batch has no gt_seg')
        labels = data_batch['gt_seg']
        labels = labels.numpy() if hasattr(labels, 'numpy') else np.asarray(labels)
        for pred, label, meta in zip(outputs or [], labels, data_batch['img_metas']):
            pred = np.asarray(pred)
            label = label[:pred.shape[0], :pred.shape[1]]
            score = image_miou(pred, label, self._num_classes, self.ignore_index)
            if score is None:
                continue
            stem = os.path.splitext(os.path.basename(meta['img_path']))[0]
            entry = (-score, self._seen, stem, pred, label, meta)
            self._seen += 1
            if len(self._worst) < self.k:
                heapq.heappush(self._worst, entry)
            elif score < -self._worst[0][0]:
                heapq.heapreplace(self._worst, entry)

    def _global_ranking(self):
        """``[(miou, rank, index in that rank's worst-first list)]`` of the k worst images of all processes."""
        mine = sorted(-entry[0] for entry in self._worst)
        # Every process fills only its own row; summing over processes gathers all rows everywhere.
        scores = np.zeros((world_size(), self.k))
        counts = np.zeros(world_size())
        scores[rank(), :len(mine)] = mine
        counts[rank()] = len(mine)
        scores, counts = all_reduce_sum(scores), all_reduce_sum(counts)
        candidates = [(scores[r, i], r, i) for r in range(world_size()) for i in range(int(counts[r]))]
        return sorted(candidates)[:self.k]

    def after_test_epoch(self, runner, metrics=None):
        from ...datasets.io import write_image_file
        from ...visualization import default_palette
        from ...visualization.panels import read_sample, sample_panel

        ranking = self._global_ranking()
        entries = sorted(self._worst, key=lambda entry: (-entry[0], entry[1]))
        palette = runner.dataset_meta.get('palette') or default_palette(self._num_classes)
        os.makedirs(self.out_dir, exist_ok=True)
        for position, (score, owner, index) in enumerate(ranking):
            if owner != rank():
                continue
            _, _, stem, pred, label, meta = entries[index]
            image, depth = read_sample(meta)
            panel = sample_panel(image, depth, label, pred, palette, self.ignore_index, caption=f'mIoU {score:.1f}')
            write_image_file(os.path.join(self.out_dir, f'{position:02d}_{stem}.png'), panel)
            self.ranking.append((position, stem, score))
        if self.ranking:
            lines = '\n'.join(f'  {position:2d}. {stem}: mIoU {score:.2f}' for position, stem, score in self.ranking)
            runner.logger.info(f'{len(self.ranking)} worst images written to {self.out_dir}:\n{lines}')
