"""The global random generators (Python's ``random``, numpy's legacy ``np.random``, Jittor's) seeded
from a tuple of numbers, so that a draw depends on where in a run it happens and not on what ran before.

The training loop seeds them from (seed, iteration, rank) before every iteration: drop path, dropout and
the random NMF bases of an iteration are then the same whether the run was interrupted and resumed or not
(Jittor's generator state cannot be saved in a checkpoint, only reseeded). Data augmentation has its own
per-sample generators (``datasets/pipelines/rng.py``).
"""
import random

import numpy as np

from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
import jittor as jt


def derived_seed(*entropy):
    """A seed in [0, 2**31) that is a function of ``entropy`` (non-negative ints) only."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0] % (2 ** 31))


def seed_global_generators(*entropy):
    """Seed Python's, numpy's and Jittor's global generators from ``entropy``; returns the seed."""
    seed = derived_seed(*entropy)
    random.seed(seed)
    np.random.seed(seed)
    jt.set_seed(seed)
    return seed
