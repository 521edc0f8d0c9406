"""Every NYUDepthv2 DFormer / DFormerv2 model (the 7 configs) exports to ONNX and is verified in ONNX Runtime.

The configs' own models with their random initialisation, at 32x32 (the smallest input: one output stride):
the point is that every module and op of every variant has its ONNX emitter and that ONNX Runtime
reproduces the Jittor logits (within ``MAX_ABS_ERROR``, argmax agreement ``MIN_AGREEMENT``), which
``export_onnx`` checks before it writes the file.
"""
import glob
import os

import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from dformer_seg.apis import init_model  # noqa: E402
from dformer_seg.deploy import MAX_ABS_ERROR, MIN_AGREEMENT, SIZE_DIVISOR, export_onnx  # noqa: E402

from script_loading import REPO  # noqa: E402

VARIANTS = sorted(os.path.relpath(path, REPO) for pattern in ('configs/dformer/*_nyu.py', 'configs/dformerv2/*_nyu.py')
                  for path in glob.glob(os.path.join(REPO, pattern)))
SHAPE = (SIZE_DIVISOR, SIZE_DIVISOR)


def test_the_seven_nyu_variants_are_all_here():
    assert [os.path.basename(v) for v in VARIANTS] == [
        'dformer_base_nyu.py', 'dformer_large_nyu.py', 'dformer_small_nyu.py', 'dformer_tiny_nyu.py',
        'dformerv2_b_nyu.py', 'dformerv2_l_nyu.py', 'dformerv2_s_nyu.py']


@pytest.mark.parametrize('config', VARIANTS)
def test_exports_and_onnxruntime_reproduces_the_logits(config, tmp_path):
    model = init_model(os.path.join(REPO, config), device='cpu')
    path = tmp_path / 'model.onnx'
    report = export_onnx(model, str(path), SHAPE, depth_channels=3)
    assert report.max_abs_error <= MAX_ABS_ERROR and report.agreement >= MIN_AGREEMENT, report.summary()
    assert report.logits_range > 10 * MAX_ABS_ERROR, 'logits too small for the error bound to mean anything'
    assert path.stat().st_size > 0
