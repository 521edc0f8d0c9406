import math

import numpy as np

import jittor as jt
from jittor import nn

from dformer_seg.ops import GELU, gelu
from op_test_utils import assert_matches_plain, random_array


def test_matches_erf_formula_and_plain_gradient():
    rng = np.random.default_rng(8)
    x = random_array(rng, (3, 5, 7), -5, 5)
    out = assert_matches_plain(gelu, [x])
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(out, 0.5 * x * (1 + erf(x / math.sqrt(2))), rtol=1e-5, atol=1e-6)


def test_module_form_equals_nn_gelu():
    x = jt.array(np.linspace(-3, 3, 13, dtype=np.float32))
    np.testing.assert_allclose(GELU()(x).numpy(), nn.GELU()(x).numpy(), rtol=1e-6, atol=1e-7)
