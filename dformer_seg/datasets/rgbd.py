"""RGB-D segmentation data sets read from folders and split files."""
import os

from ..registry import DATASETS
from .errors import DataError
from .metainfo import label_palette
from .pipelines import Compose

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
MAX_LISTED_PROBLEMS = 5


@DATASETS.register_module()
class RGBDSegDataset:
    """An RGB-D (or RGB + any second modality saved as an image) segmentation set.

    Layout (every folder name and suffix is configurable)::

        data_root/RGB/<name>.jpg      img_dir, img_suffix
        data_root/Depth/<name>.png    depth_dir, depth_suffix
        data_root/Label/<name>.png    ann_dir, seg_suffix (ann_dir=None: no labels)
        data_root/train.txt           split

    ``split`` is a split name ('train' -> ``train.txt``) or a file path relative
    to ``data_root``; each non-empty line is ``RGB/<name>.jpg [Label/<name>.png]``
    or just ``<name>``: the name is taken from the first token and the three
    paths are built from it (other tokens are ignored, as in the official
    code). ``split=None`` uses every ``*img_suffix`` file under ``img_dir``.
    A folder argument may be a list of candidate names; the first that exists
    is used. ``reduce_zero_label``: raw label 0 is void (-> ``ignore_index``)
    and raw v is class v - 1. Every file is checked at construction
    (``check_files``) so that a wrong root or a missing file stops at once.
    """

    CLASSES = None
    DEFAULT_IMG_DIR = 'RGB'
    DEFAULT_DEPTH_DIR = 'Depth'
    DEFAULT_ANN_DIR = 'Label'

    def __init__(self, data_root, pipeline=(), split=None, img_dir=None, depth_dir=None, ann_dir='default',
                 img_suffix='.jpg', depth_suffix='.png', seg_suffix='.png', classes=None, palette=None,
                 reduce_zero_label=False, ignore_index=255, check_files=True):
        if not data_root or not os.path.isdir(data_root):
            raise DataError(f'{type(self).__name__}: data_root {data_root!r} is not a folder (wrong root? '
                            f'current directory: {os.getcwd()})')
        self.data_root = os.path.normpath(data_root)
        self.img_dir = self._find_folder(img_dir or self.DEFAULT_IMG_DIR, 'image (img_dir)')
        self.depth_dir = self._find_folder(depth_dir or self.DEFAULT_DEPTH_DIR, 'depth (depth_dir)')
        ann_dir = self.DEFAULT_ANN_DIR if ann_dir == 'default' else ann_dir
        self.ann_dir = None if ann_dir is None else self._find_folder(ann_dir, 'label (ann_dir)')
        self.img_suffix, self.depth_suffix, self.seg_suffix = img_suffix, depth_suffix, seg_suffix

        classes = classes if classes is not None else self.CLASSES
        if not classes:
            raise ValueError(f'{type(self).__name__}: set classes=[...] (the class names, in label order)')
        self.classes = tuple(classes)
        self.palette = self._check_palette(palette if palette is not None else label_palette(len(self.classes)))
        self.reduce_zero_label = bool(reduce_zero_label)
        self.ignore_index = int(ignore_index)

        self.split_file = self._resolve_split(split)
        self.samples = self._read_split() if self.split_file else self._scan_folder()
        if check_files:
            self._check_files()
        self.pipeline = pipeline if isinstance(pipeline, Compose) else Compose(list(pipeline))

    # ------------------------------------------------------------------ metadata
    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def metainfo(self):
        return dict(classes=self.classes, palette=self.palette, num_classes=self.num_classes,
                    ignore_index=self.ignore_index, reduce_zero_label=self.reduce_zero_label)

    def _check_palette(self, palette):
        palette = [tuple(int(v) for v in color) for color in palette]
        if len(palette) != len(self.classes) or any(len(c) != 3 or min(c) < 0 or max(c) > 255 for c in palette):
            raise ValueError(f'{type(self).__name__}: palette must have one (r, g, b) colour in 0..255 per '
                             f'class ({len(self.classes)}), got {len(palette)} entries')
        return palette

    # ------------------------------------------------------------------ file list
    def _find_folder(self, candidates, what):
        names = [candidates] if isinstance(candidates, str) else list(candidates)
        for name in names:
            if os.path.isdir(os.path.join(self.data_root, name)):
                return name
        tried = ', '.join(os.path.join(self.data_root, n) for n in names)
        raise DataError(f'{type(self).__name__}: {what} folder not found: {tried} (wrong data_root?)')

    def _resolve_split(self, split):
        if split is None:
            return None
        path = str(split)
        if not path.endswith('.txt') and '/' not in path and os.sep not in path:
            path += '.txt'
        if not os.path.isabs(path):
            path = os.path.join(self.data_root, path)
        if not os.path.isfile(path):
            raise DataError(f'{type(self).__name__}: split file not found: {path} (split={split!r})')
        return path

    def _name_from_entry(self, token):
        entry = token.replace('\\', '/')
        if entry.startswith('./'):
            entry = entry[2:]
        prefix = self.img_dir.replace('\\', '/').rstrip('/') + '/'
        if entry.startswith(prefix):
            entry = entry[len(prefix):]
        if entry.endswith(self.img_suffix):
            return entry[:-len(self.img_suffix)]
        stem, ext = os.path.splitext(entry)
        return stem if ext.lower() in IMAGE_EXTENSIONS else entry

    def _record(self, name, origin):
        return dict(
            name=name, origin=origin,
            img_path=os.path.join(self.data_root, self.img_dir, name + self.img_suffix),
            depth_path=os.path.join(self.data_root, self.depth_dir, name + self.depth_suffix),
            seg_map_path=(None if self.ann_dir is None
                          else os.path.join(self.data_root, self.ann_dir, name + self.seg_suffix)))

    def _read_split(self):
        samples = []
        with open(self.split_file, encoding='utf-8') as f:
            for line_no, line in enumerate(f, 1):
                text = line.strip()
                if not text or text.startswith('#'):
                    continue
                origin = f'split file {self.split_file}, line {line_no}: {text!r}'
                samples.append(self._record(self._name_from_entry(text.split()[0]), origin))
        if not samples:
            raise DataError(f'{type(self).__name__}: split file {self.split_file} lists no samples (it is empty)')
        return samples

    def _scan_folder(self):
        folder = os.path.join(self.data_root, self.img_dir)
        names = []
        for current, _, files in os.walk(folder, followlinks=True):
            for file_name in files:
                if file_name.endswith(self.img_suffix):
                    rel = os.path.relpath(os.path.join(current, file_name), folder).replace(os.sep, '/')
                    names.append(rel[:-len(self.img_suffix)])
        if not names:
            raise DataError(f'{type(self).__name__}: no *{self.img_suffix} images in {folder}')
        return [self._record(name, f'found in {folder}') for name in sorted(names)]

    def _check_files(self):
        problems = []
        for record in self.samples:
            for key, what in (('img_path', 'image'), ('depth_path', 'depth'), ('seg_map_path', 'label')):
                path = record[key]
                if path is not None and not os.path.isfile(path):
                    problems.append(f'{what} file not found: {path} ({record["origin"]})')
        if problems:
            more = len(problems) - MAX_LISTED_PROBLEMS
            listed = '\n  '.join(problems[:MAX_LISTED_PROBLEMS]) + (f'\n  ... and {more} more' if more > 0 else '')
            raise DataError(f'{type(self).__name__} at {self.data_root}: {len(problems)} missing file(s):\n  {listed}')

    # ------------------------------------------------------------------ access
    def __len__(self):
        return len(self.samples)

    def get_sample_info(self, idx):
        """The results dict a pipeline starts from (paths and label settings)."""
        record = self.samples[idx]
        return dict(img_path=record['img_path'], depth_path=record['depth_path'],
                    seg_map_path=record['seg_map_path'], sample_idx=idx % len(self.samples),
                    reduce_zero_label=self.reduce_zero_label, ignore_index=self.ignore_index,
                    num_classes=self.num_classes, img_fields=[], seg_fields=[])

    def __getitem__(self, idx):
        results = self.get_sample_info(idx)
        try:
            return self.pipeline(results)
        except DataError as exc:
            raise DataError(f'{exc}\n  (sample {results["sample_idx"]} of {type(self).__name__}, '
                            f'{self.samples[idx]["origin"]})') from None

    def __repr__(self):
        source = self.split_file or os.path.join(self.data_root, self.img_dir)
        return (f'{type(self).__name__}({len(self)} samples from {source}, {self.num_classes} classes, '
                f'reduce_zero_label={self.reduce_zero_label})')
