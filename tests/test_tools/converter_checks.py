"""Load a converted data set through its dataset config, for the converter tests."""
import os

from dformer_seg.config import Config
from dformer_seg.datasets import build_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALUE_CHANGING = ('Normalize', 'PackSegInputs')


def load_converted(dataset_config, data_root, split):
    """The data set of ``configs/_base_/datasets/<dataset_config>`` at ``data_root``, with the config's test
    pipeline up to the loaded values (normalization and packing left out)."""
    cfg = Config.fromfile(os.path.join(REPO, 'configs', '_base_', 'datasets', dataset_config))
    dataset = cfg.test_dataloader.dataset.to_dict()
    dataset.update(data_root=data_root, split=split,
                   pipeline=[t for t in dataset['pipeline'] if t['type'] not in VALUE_CHANGING])
    return build_dataset(dataset)
