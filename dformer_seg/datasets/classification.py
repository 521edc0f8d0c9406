"""RGB-D image classification data sets in the ImageNet folder layout (RGB-D pretraining)."""
import logging
import os
import re

from ..registry import DATASETS
from .errors import DataError
from .pipelines import Compose

logger = logging.getLogger('dformer_seg')

CLS_IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png', '.bmp', '.webp', '.tif', '.tiff')
MISSING_DEPTH_POLICIES = ('error', 'skip')
MAX_LISTED = 5


def natural_key(text):
    """Sort key that orders digit runs by value (``class2`` before ``class10``), as timm orders class folders."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r'(\d+)', text)]


def _listing(paths, total):
    shown = '\n  '.join(paths[:MAX_LISTED])
    return f'\n  {shown}' + (f'\n  ... and {total - MAX_LISTED} more' if total > MAX_LISTED else '')


@DATASETS.register_module()
class RGBDClassificationDataset:
    """RGB images with a depth map each (or any second modality saved as an image) and one class label.

    Layout (as ImageNet and RGBD-Pretrain's ``datasets/ImageNet`` + ``datasets/Depth_ImageNet``)::

        data_root/<split>/<class>/<name>.JPEG        the RGB image
        depth_root/<split>/<class>/<name><depth_suffix>

    Class names are the folder names under ``data_root/<split>``, in natural order (timm's), unless
    ``classes`` lists them. With ``ann_file`` (a text file, relative to ``data_root``) the samples are
    its lines ``<path relative to data_root> <class index>`` instead of a folder scan, and ``classes``
    (or the class folders of ``data_root/<split>``) names the classes.

    A depth path is the image's relative path with its extension replaced by ``depth_suffix``
    ('.png' as ``estimate_depth.py`` writes; RGBD-Pretrain's Depth_ImageNet uses '_depth.jpg').
    Missing depth files stop with their count and the first paths; ``missing_depth='skip'`` leaves
    those images out instead (the count is logged). A class folder without images is an error.
    ``check_files=False`` skips the depth check (large sets on slow disks).
    """

    CLASSES = None

    def __init__(self, data_root, depth_root, pipeline=(), split='train', ann_file=None, classes=None,
                 depth_suffix='.png', missing_depth='error', check_files=True):
        for root, what in ((data_root, 'data_root'), (depth_root, 'depth_root')):
            if not root or not os.path.isdir(root):
                raise DataError(f'{type(self).__name__}: {what} {root!r} is not a folder (current directory: '
                                f'{os.getcwd()})')
        if missing_depth not in MISSING_DEPTH_POLICIES:
            raise ValueError(f'missing_depth must be one of {MISSING_DEPTH_POLICIES}, got {missing_depth!r}')
        self.data_root = os.path.normpath(data_root)
        self.depth_root = os.path.normpath(depth_root)
        self.split = split
        self.depth_suffix = depth_suffix
        self.split_dir = os.path.join(self.data_root, split) if split else self.data_root
        self.classes = tuple(classes) if classes is not None else self._class_folders()
        if len(self.classes) < 2:
            raise DataError(f'{type(self).__name__}: {len(self.classes)} class(es) {list(self.classes)}; a '
                            f'classification set needs at least 2')
        if ann_file is not None:
            self.samples = self._read_ann_file(ann_file)
        else:
            self.samples = self._scan_folders()
        if check_files:
            self._check_depth(missing_depth)
        if not self.samples:
            raise DataError(f'{type(self).__name__}: no samples in {self.split_dir}')
        self.pipeline = pipeline if isinstance(pipeline, Compose) else Compose(list(pipeline))

    # ------------------------------------------------------------------ metadata
    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def metainfo(self):
        return dict(classes=self.classes, num_classes=self.num_classes)

    # ------------------------------------------------------------------ file list
    def _class_folders(self):
        if not os.path.isdir(self.split_dir):
            raise DataError(f'{type(self).__name__}: split folder not found: {self.split_dir} (split={self.split!r})')
        names = [e.name for e in os.scandir(self.split_dir) if e.is_dir() and not e.name.startswith('.')]
        if not names:
            raise DataError(f'{type(self).__name__}: {self.split_dir} has no class folders (expected '
                            f'<split>/<class>/<image>)')
        return tuple(sorted(names, key=natural_key))

    def _record(self, rel_path, label):
        stem = os.path.splitext(os.path.normpath(rel_path))[0]
        return dict(img_path=os.path.join(self.data_root, rel_path),
                    depth_path=os.path.join(self.depth_root, stem + self.depth_suffix), gt_label=int(label))

    def _scan_folders(self):
        samples, empty = [], []
        for label, name in enumerate(self.classes):
            folder = os.path.join(self.split_dir, name)
            if not os.path.isdir(folder):
                raise DataError(f'{type(self).__name__}: class folder not found: {folder} (class {label} of '
                                f'classes={list(self.classes)[:5]}...)')
            found = []
            for current, _, files in os.walk(folder, followlinks=True):
                found += [os.path.join(current, f) for f in files if f.lower().endswith(CLS_IMAGE_EXTENSIONS)]
            if not found:
                empty.append(folder)
            for path in sorted(found):
                samples.append(self._record(os.path.relpath(path, self.data_root), label))
        if empty:
            raise DataError(f'{type(self).__name__}: {len(empty)} class folder(s) without images (*'
                            f'{", *".join(CLS_IMAGE_EXTENSIONS)}); remove them or add images:'
                            f'{_listing(empty, len(empty))}')
        return samples

    def _read_ann_file(self, ann_file):
        path = ann_file if os.path.isabs(ann_file) else os.path.join(self.data_root, ann_file)
        if not os.path.isfile(path):
            raise DataError(f'{type(self).__name__}: ann_file not found: {path}')
        samples = []
        with open(path, encoding='utf-8') as f:
            for line_no, line in enumerate(f, 1):
                parts = line.split()
                if not parts or parts[0].startswith('#'):
                    continue
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise DataError(f'{path}, line {line_no}: expected "<relative image path> <class index>", '
                                    f'got {line.strip()!r}')
                label = int(parts[1])
                if not 0 <= label < self.num_classes:
                    raise DataError(f'{path}, line {line_no}: class index {label} is outside 0..'
                                    f'{self.num_classes - 1} ({self.num_classes} classes)')
                samples.append(self._record(parts[0], label))
        return samples

    def _check_depth(self, policy):
        missing = [s for s in self.samples if not os.path.isfile(s['depth_path'])]
        if not missing:
            return
        paths = [s['depth_path'] for s in missing]
        if policy == 'error':
            raise DataError(f'{type(self).__name__}: {len(missing)} of {len(self.samples)} images have no depth '
                            f'file under {self.depth_root}; create them (tools/dataset_converters/estimate_depth.py) '
                            f"or set missing_depth='skip' to leave those images out:{_listing(paths, len(paths))}")
        missing_ids = {id(s) for s in missing}
        self.samples = [s for s in self.samples if id(s) not in missing_ids]
        logger.warning(f'{type(self).__name__}: skipping {len(missing)} image(s) without a depth file '
                       f"(missing_depth='skip'), {len(self.samples)} left:{_listing(paths, len(paths))}")

    # ------------------------------------------------------------------ access
    def __len__(self):
        return len(self.samples)

    def get_sample_info(self, idx):
        record = self.samples[idx]
        return dict(img_path=record['img_path'], depth_path=record['depth_path'], gt_label=record['gt_label'],
                    sample_idx=idx % len(self.samples), img_fields=[], seg_fields=[])

    def __getitem__(self, idx):
        results = self.get_sample_info(idx)
        try:
            return self.pipeline(results)
        except DataError as exc:
            raise DataError(f'{exc}\n  (sample {results["sample_idx"]} of {type(self).__name__}, '
                            f'{results["img_path"]})') from None

    def __repr__(self):
        return (f'{type(self).__name__}({len(self)} samples from {self.split_dir}, depth from '
                f'{self.depth_root}, {self.num_classes} classes)')
