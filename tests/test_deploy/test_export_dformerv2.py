"""ONNX export of a reduced DFormerv2 segmentor (decomposed and full geometry attention, rotary code, layer
scale) with the LightHamHead: onnx.checker and ONNX Runtime parity."""
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from deploy_models import DFORMERV2, check_light_ham_head_export  # noqa: E402


def test_dformerv2_with_light_ham_head(tmp_path):
    check_light_ham_head_export(DFORMERV2, tmp_path)
