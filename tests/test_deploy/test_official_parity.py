"""The exported ONNX models reproduce the official PyTorch logits (parity fixtures of tests/fixtures/parity).

The official DFormer v1 itself cannot be exported by ``torch.onnx.export``; its port here exports and
its ONNX Runtime logits match the reference outputs of the official code.
"""
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

import numpy as np  # noqa: E402
from test_models.test_parity import TOLERANCE, segmentor_cfg_from_fixture, use_fixture_bases  # noqa: E402

from dformer_seg.deploy import export_onnx, ort_session  # noqa: E402
from dformer_seg.registry import SEGMENTORS  # noqa: E402
from dformer_seg.utils.checkpoint import load_state_dict  # noqa: E402

from parity_fixtures import fixture_dir, generate_weights, load_config, load_npz  # noqa: E402

SIZE = '96x128'  # the fixture size that is a multiple of 32


@pytest.mark.parametrize('name', ['dformer_v1_mini', 'dformer_v2_mini'])
def test_onnx_runtime_matches_the_official_logits(name, tmp_path):
    path = fixture_dir(name)
    model = SEGMENTORS.build(segmentor_cfg_from_fixture(load_config(path)))
    load_state_dict(model, generate_weights(path), strict=True)
    model.eval()
    inputs, expected = load_npz(path, 'inputs.npz'), load_npz(path, 'expected.npz')
    use_fixture_bases(model, inputs)  # the reference's NMF bases, stored in the graph as constants
    rgb, depth = inputs[f'rgb_{SIZE}'], inputs[f'depth_{SIZE}']
    onnx_path = str(tmp_path / f'{name}.onnx')
    export_onnx(model, onnx_path, rgb.shape[2:], depth_channels=depth.shape[1])
    logits = ort_session(onnx_path).run(['logits'], dict(rgb=rgb, depth=depth))[0]
    difference = np.abs(logits - expected[f'logits_{SIZE}']).max()
    assert difference < TOLERANCE, f'ONNX Runtime differs from the official logits by {difference:.3g}'
