"""Build a segmentor from a config and load its trained weights."""
import copy
import logging

from .. import datasets as _datasets, models as _models  # noqa: F401  (register their classes)
from ..config import Config
from ..datasets.metainfo import label_palette
from ..registry import DATASETS, SEGMENTORS
from ..runtime import use_device
from ..utils.checkpoint import load_state_dict, read_checkpoint

logger = logging.getLogger('dformer_seg')


def _dataset_meta_from_config(cfg):
    """Class names / palette of the config's test (or val) dataset: its ``classes`` or its class's CLASSES."""
    for loader_key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(loader_key)
        dataset = loader.get('dataset') if isinstance(loader, dict) else None
        if not isinstance(dataset, dict):
            continue
        dataset_cls = DATASETS.get(dataset.get('type')) if isinstance(dataset.get('type'), str) else None
        classes = dataset.get('classes') or getattr(dataset_cls, 'CLASSES', None)
        if classes:
            palette = dataset.get('palette') or getattr(dataset_cls, 'PALETTE', None) or label_palette(len(classes))
            return dict(classes=list(classes), palette=[tuple(c) for c in palette])
    return None


def _dataset_meta_from_checkpoint(meta):
    """``classes`` / ``palette`` stored as meta keys (lower or upper case) or under ``dataset_meta``."""
    if isinstance(meta.get('dataset_meta'), dict):
        meta = meta['dataset_meta']
    classes = meta.get('classes') or meta.get('CLASSES')
    if not classes:
        return None
    palette = meta.get('palette') or meta.get('PALETTE')
    return dict(classes=list(classes), palette=palette) if palette is not None else dict(classes=list(classes))


def init_model(config, checkpoint=None, device='auto', strict=True):
    """Build the segmentor of ``config`` in eval mode and load ``checkpoint``.

    Args:
        config: a config file path or a :class:`Config`.
        checkpoint: official PyTorch ``.pth`` or native ``.pkl`` weights of the whole
            segmentor; None keeps the initial weights.
        device: 'auto' | 'cpu' | 'cuda'.
        strict: refuse a checkpoint whose keys or shapes differ from the model
            (the error lists the offending keys).

    Returns the model with ``model.cfg`` (the config) and ``model.dataset_meta``
    (``classes`` / ``palette`` from the checkpoint meta or its ``dataset_meta``, else from the config's
    dataset class, else None).
    """
    if isinstance(config, str):
        config = Config.fromfile(config)
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    if 'model' not in config:
        raise KeyError(f'config {config.filename} has no "model" entry')
    use_device(device)

    model_cfg = copy.deepcopy(config.to_dict()['model'])
    # Inference never starts from ImageNet-pretrained or init_cfg files: only ``checkpoint`` counts.
    model_cfg['pretrained'] = None
    model_cfg.pop('init_cfg', None)
    model = SEGMENTORS.build(model_cfg)

    dataset_meta = None
    if checkpoint is not None:
        loaded = read_checkpoint(checkpoint)
        load_state_dict(model, loaded['state_dict'], strict=strict)
        dataset_meta = _dataset_meta_from_checkpoint(loaded.get('meta') or {})
        logger.info(f'loaded checkpoint {checkpoint}')
    model.dataset_meta = dataset_meta or _dataset_meta_from_config(config)
    model.cfg = config
    model.eval()
    return model
