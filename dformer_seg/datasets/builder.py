"""Build data sets and data loaders from config dicts."""
from ..registry import DATASETS

DATALOADER_KEYS = ('batch_size', 'num_workers', 'shuffle', 'drop_last', 'dataset', 'buffer_size')


def build_dataset(cfg, **default_args):
    """A data set from ``dict(type=..., data_root=..., pipeline=[...], ...)`` (or a built one)."""
    if not isinstance(cfg, dict):
        return cfg
    return DATASETS.build(cfg, **default_args)


def build_dataloader(dataloader_cfg, seed=None, rank=None, world_size=None):
    """An ``RGBDDataLoader`` from ``dict(batch_size (per process), num_workers, shuffle, drop_last,
    dataset=dict(...))``.

    ``seed`` fixes the shuffling and augmentation (the same on every process;
    None: a random seed shared over MPI). ``rank``/``world_size`` default to
    the MPI values.
    """
    cfg = dict(dataloader_cfg)
    unknown = sorted(set(cfg) - set(DATALOADER_KEYS))
    if unknown:
        raise KeyError(f'unknown data loader option(s) {unknown}; allowed: {", ".join(DATALOADER_KEYS)}')
    if 'dataset' not in cfg or 'batch_size' not in cfg:
        raise KeyError(f'a data loader config needs "dataset" and "batch_size", got keys {sorted(cfg)}')
    from .loader import RGBDDataLoader  # imports Jittor; data sets and pipelines do not need it
    dataset = build_dataset(cfg.pop('dataset'))
    return RGBDDataLoader(dataset, seed=seed, rank=rank, world_size=world_size, **cfg)
