import math

import jittor as jt
import numpy as np
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


def test_erf_approximation_accuracy_over_the_whole_line():
    # The kernel's rational erf is within 3.5e-7 of erf; GELU = x * (1 + erf(x / sqrt 2)) / 2 inherits
    # |x| / 2 times that, and beyond |x| = 3.92 * sqrt 2 the result is exactly 0 or x (as in float32).
    x = np.linspace(-12.0, 12.0, 240001, dtype=np.float32)
    with jt.no_grad():
        fast = gelu(jt.array(x)).numpy().astype(np.float64)
    exact_erf = np.vectorize(math.erf)(x.astype(np.float64) / math.sqrt(2.0))
    exact = 0.5 * x * (1.0 + exact_erf)
    bound = 0.5 * np.abs(x) * 3.5e-7 + 1e-7 * np.abs(exact) + 1e-12
    assert (np.abs(fast - exact) <= bound).all(), np.abs(fast - exact).max()
    np.testing.assert_array_equal(fast[x >= 5.6], x[x >= 5.6])
    assert (np.abs(fast[x <= -5.6]) < 1e-6).all()
