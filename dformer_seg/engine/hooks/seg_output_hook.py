import json
import os

import cv2
import numpy as np

from ...registry import HOOKS
from ...utils.dist import barrier, is_main_process, rank, world_size
from ...visualization import default_palette, overlay_label_map
from .hook import Hook


@HOOKS.register_module()
class SegOutputHook(Hook):
    """Writes test predictions: label PNGs (``out_dir``), colour overlays on the RGB image
    (``show_dir``), and/or COCO-style RLE records of every image and class (``json_file``).

    Files are named after the image (``<image stem>.png``). Every MPI process writes its
    own images; the JSON records are gathered into one file by rank 0.
    """

    priority = 'LOW'

    def __init__(self, out_dir=None, show_dir=None, json_file=None, opacity=0.5):
        if not (out_dir or show_dir or json_file):
            raise ValueError('SegOutputHook needs out_dir, show_dir or json_file')
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f'opacity must be in [0, 1], got {opacity}')
        self.out_dir = out_dir
        self.show_dir = show_dir
        self.json_file = json_file
        self.opacity = opacity
        self._records = []
        self._names = set()
        self._palette = None
        self._class_names = None

    def before_test_epoch(self, runner):
        meta = runner.dataset_meta
        self._class_names = meta.get('classes')
        self._palette = meta.get('palette')
        self._records, self._names = [], set()
        for folder in (self.out_dir, self.show_dir):
            if folder:
                os.makedirs(folder, exist_ok=True)
        if self.json_file:
            os.makedirs(os.path.dirname(os.path.abspath(self.json_file)), exist_ok=True)

    def _image_name(self, meta):
        stem = os.path.splitext(os.path.basename(meta['img_path']))[0]
        if stem in self._names:
            raise ValueError(f'two test images are both named {stem!r}; SegOutputHook names its files after '
                             f'the image file name')
        self._names.add(stem)
        return stem

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        for pred, meta in zip(outputs or [], data_batch['img_metas']):
            pred = np.asarray(pred)
            name = self._image_name(meta)
            if self.out_dir:
                dtype = np.uint8 if pred.max(initial=0) < 256 else np.uint16
                cv2.imwrite(os.path.join(self.out_dir, f'{name}.png'), pred.astype(dtype))
            if self.show_dir:
                self._write_overlay(meta['img_path'], pred, os.path.join(self.show_dir, f'{name}.png'))
            if self.json_file:
                from ...evaluation.rle import prediction_to_rle_records
                self._records += prediction_to_rle_records(pred, name, self._class_names)

    def _write_overlay(self, img_path, pred, path):
        image = cv2.imread(img_path, cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f'cannot read {img_path} to draw the prediction on it')
        palette = self._palette or default_palette(int(pred.max(initial=0)) + 1)
        cv2.imwrite(path, overlay_label_map(image, pred, palette, self.opacity, color_order='bgr'))

    def after_test_epoch(self, runner, metrics=None):
        if not self.json_file:
            return
        if world_size() == 1:
            records = self._records
        else:
            part = f'{self.json_file}.part{rank()}'
            with open(part, 'w') as f:
                json.dump(self._records, f)
            barrier()
            records = []
            if is_main_process():
                for r in range(world_size()):
                    with open(f'{self.json_file}.part{r}') as f:
                        records += json.load(f)
                    os.remove(f'{self.json_file}.part{r}')
        if is_main_process():
            records.sort(key=lambda rec: (str(rec['image_id']), rec['category_id']))
            with open(self.json_file, 'w') as f:
                json.dump(records, f)
            runner.logger.info(f'wrote {len(records)} RLE records to {self.json_file}')
