"""Build a segmentor from a config and load its trained weights."""
import copy
import logging

from .. import datasets as _datasets, models as _models  # noqa: F401  (register their classes)
from ..config import Config
from ..registry import DATASETS, SEGMENTORS
from ..runtime import use_device
from ..utils.checkpoint import load_state_dict, read_checkpoint

logger = logging.getLogger('dformer_seg')


def _dataset_meta_from_config(cfg):
    """Class names / palette of the test dataset class, when the config names a registered one."""
    for loader_key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(loader_key)
        dataset = loader.get('dataset') if isinstance(loader, dict) else None
        dataset_type = dataset.get('type') if isinstance(dataset, dict) else None
        dataset_cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else None
        metainfo = getattr(dataset_cls, 'METAINFO', None)
        if isinstance(metainfo, dict) and metainfo.get('classes'):
            return {key: metainfo[key] for key in ('classes', 'palette') if key in metainfo}
    return None


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
    if checkpoint is not None:
        # The trained weights replace everything: do not read ImageNet-pretrained files as well.
        model_cfg['pretrained'] = None
        model_cfg.pop('init_cfg', None)
    model = SEGMENTORS.build(model_cfg)

    dataset_meta = None
    if checkpoint is not None:
        loaded = read_checkpoint(checkpoint)
        load_state_dict(model, loaded['state_dict'], strict=strict)
        meta = loaded.get('meta') or {}
        meta = meta.get('dataset_meta') or meta  # the engine may nest it
        if meta.get('classes'):
            dataset_meta = {key: meta[key] for key in ('classes', 'palette') if key in meta}
        logger.info(f'loaded checkpoint {checkpoint}')
    model.dataset_meta = dataset_meta or _dataset_meta_from_config(config)
    model.cfg = config
    model.eval()
    return model
