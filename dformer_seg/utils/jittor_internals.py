"""Every reliance of dformer_seg on Jittor behaviour that Jittor does not document, in one place.

Each reliance below names what it uses and the Jittor version it was checked on;
``tests/test_utils/test_jittor_internals.py`` fails loudly when a Jittor release changes one of them.
Importing this module refuses a Jittor outside the series the relied-on internals are known for
(:func:`check_jittor_version`), with a message that says so, instead of training or loading data wrongly.

1. Optimizers (:func:`adam_state`, :func:`undo_step_count`; checked on Jittor 1.3.11): ``jt.optim.Adam`` /
   ``AdamW`` keep each parameter group's moments in ``group['m']`` (first) and ``group['values']`` (second),
   and its gradients in ``group['grads']``; ``optimizer.backward`` adds to those gradients until a step clears
   them (gradient accumulation relies on it) and adds 1 to ``optimizer.n_step`` (the step count of the bias
   correction).
2. Kernel compile flags (:func:`add_compile_flags`; checked on Jittor 1.3.11): an op's ``compile_options``
   entry ``'FLAGS: <flags> '`` appends ``<flags>`` to the compiler command line of its kernel.
3. The data loader (:class:`ShardedJittorDataset`, :func:`has_workers`, :func:`restart_workers`; checked on
   Jittor 1.3.11): ``jittor.dataset.Dataset`` asks for each pass's sample order through its private
   ``_get_index_list`` (at every ``iter()`` and whenever its workers start a new round) and reads
   ``real_len``, ``real_batch_size`` and ``batch_len``; it has ``workers`` once its worker processes run, and
   ``reset()`` stops them (the next ``iter()`` starts new ones).
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
import jittor as jt
from jittor.dataset import Dataset as JittorDataset

SUPPORTED_JITTOR = (1, 3)
CHECKED_ON = '1.3.11'
_PRIVATE_API = ((JittorDataset, ('_get_index_list', '__batch_len__', '__real_len__', 'reset')),
                (jt.optim.Optimizer, ('pre_step', 'post_step', 'backward')))


def check_jittor_version(version=None):
    """Raise RuntimeError unless the Jittor ``version`` (default: the loaded one) has the internals used here."""
    version = version or jt.__version__
    major_minor = tuple(int(part) for part in version.split('.')[:2])
    missing = [f'{owner.__name__}.{name}' for owner, names in _PRIVATE_API for name in names
               if not hasattr(owner, name)]
    if major_minor != SUPPORTED_JITTOR or missing:
        raise RuntimeError(
            f'dformer_seg relies on internals of Jittor that it knows for Jittor '
            f'{".".join(map(str, SUPPORTED_JITTOR))}.x; this is Jittor {version}'
            + (f' (missing: {", ".join(missing)})' if missing else '')
            + f' (each reliance was checked on Jittor {CHECKED_ON}). Install a supported Jittor (see '
              f'requirements/runtime.txt) or adapt dformer_seg/utils/jittor_internals.py.')


# ---------------------------------------------------------------------- 1. optimizers
ADAM_STATE_SLOTS = ('m', 'values')  # first and second moments, per parameter group


def adam_state(group):
    """``(params, grads, first moments, second moments)`` of a param group of ``jt.optim.Adam`` / ``AdamW``
    (lists in parameter order; ``grads`` after ``optimizer.backward``)."""
    return group['params'], group['grads'], group['m'], group['values']


def undo_step_count(optimizer):
    """Take back the 1 that ``optimizer.backward`` added to ``optimizer.n_step`` (for a backward that does
    not start an update: gradient accumulation, or an update that was skipped)."""
    optimizer.n_step -= 1


# ---------------------------------------------------------------------- 2. kernel compile flags
def add_compile_flags(var, flags):
    """Build the kernel that computes ``var`` with the extra compiler ``flags`` (after ``-march=native``)."""
    var.compile_options = {f'FLAGS: {flags} ': 1}


# ---------------------------------------------------------------------- 3. the data loader
class ShardedJittorDataset(JittorDataset):
    """Jittor's loader (worker processes, shared-memory batches) fed with a sample order of our choosing:
    subclasses implement :meth:`epoch_index_list` (int32 sample indices this process loads, in order) and
    :meth:`batches_of` (the number of batches of that many indices)."""

    def epoch_index_list(self):
        raise NotImplementedError

    def batches_of(self, num_indices):
        raise NotImplementedError

    def _get_index_list(self):
        indices = self.epoch_index_list()
        self.real_len = len(indices)
        self.real_batch_size = self.batch_size
        self.batch_len = self.batches_of(self.real_len)
        return indices


def has_workers(loader):
    """Whether ``loader``'s worker processes are running (they start at its first ``iter()``)."""
    return hasattr(loader, 'workers')


def restart_workers(loader):
    """Stop ``loader``'s workers and drop what they prefetched; its next ``iter()`` starts new ones."""
    loader.reset()


check_jittor_version()
