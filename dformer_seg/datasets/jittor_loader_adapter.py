"""The one place that relies on private internals of Jittor's ``jittor.dataset.Dataset``.

:class:`RGBDDataLoader` uses Jittor's loader for its worker processes and
shared-memory batches, but decides itself which samples each process loads in
which order (Jittor would split a global batch over the MPI processes). Jittor
asks for that order through its private ``_get_index_list`` and reads the
private ``real_len``, ``real_batch_size`` and ``batch_len``; this adapter maps
them to the public :meth:`ShardedJittorDataset.epoch_index_list`. It was
written against Jittor 1.3 (the range in requirements/runtime.txt); another
version is refused with a message that says so, instead of loading wrong data.
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
import jittor as jt
from jittor.dataset import Dataset as JittorDataset

from .sampler import num_batches

SUPPORTED_JITTOR = (1, 3)
_PRIVATE_API = ('_get_index_list', '__batch_len__', '__real_len__')


def check_jittor_version(version=None):
    """Raise RuntimeError unless the Jittor ``version`` (default: the loaded one) has the internals used here."""
    version = version or jt.__version__
    major_minor = tuple(int(part) for part in version.split('.')[:2])
    missing = [name for name in _PRIVATE_API if not hasattr(JittorDataset, name)]
    if major_minor != SUPPORTED_JITTOR or missing:
        raise RuntimeError(
            f'dformer_seg\'s data loader drives private internals of jittor.dataset.Dataset that it knows for Jittor '
            f'{".".join(map(str, SUPPORTED_JITTOR))}.x; this is Jittor {version}'
            + (f' (missing: {", ".join(missing)})' if missing else '')
            + '. Install a supported Jittor (see requirements/runtime.txt) or adapt '
              'dformer_seg/datasets/jittor_loader_adapter.py.')


class ShardedJittorDataset(JittorDataset):
    """Jittor's loader fed with an index list of our choosing: subclasses implement
    :meth:`epoch_index_list` (int32 sample indices this process loads, in order)."""

    def epoch_index_list(self):
        raise NotImplementedError

    def _get_index_list(self):
        # Jittor calls this at the start of every iter() and whenever its workers begin a new round.
        indices = self.epoch_index_list()
        self.real_len = len(indices)
        self.real_batch_size = self.batch_size
        self.batch_len = num_batches(self.real_len, self.batch_size, self.drop_last)
        return indices


check_jittor_version()
