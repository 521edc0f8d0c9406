"""What the exporter refuses, with one clear message each and no file left behind."""
import os
import subprocess
import sys

import pytest

from dformer_seg.deploy import (
    ExportError,
    UnsupportedModuleError,
    check_shape,
    export_onnx,
    register_traceable_module,
    require,
)
from dformer_seg.deploy.modules import TRACEABLE_MODULES
from dformer_seg.models.decode_heads import FCNHead

from deploy_models import DFORMER, SHAPE, build_segmentor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ExpFCNHead(FCNHead):
    """A user head the exporter knows nothing about; its execute uses a tensor method it does not record."""

    def execute(self, inputs):
        return super().execute(inputs).exp()


def fcn_model_with(head_cls):
    model = build_segmentor(DFORMER, 'FCNHead')
    head = model.decode_head
    custom = head_cls(in_channels=head.in_channels, channels=head.channels, num_classes=head.num_classes,
                      norm_cfg=head.norm_cfg)
    custom.eval()
    model.decode_head = custom
    return model


def test_unsupported_module_is_named(tmp_path):
    pytest.importorskip('onnx')
    path = tmp_path / 'model.onnx'
    with pytest.raises(UnsupportedModuleError, match=r'module decode_head \(.*ExpFCNHead\) has no ONNX emitter'):
        export_onnx(fcn_model_with(ExpFCNHead), str(path), SHAPE, verify=False)
    assert not path.exists()


def test_unrecorded_operation_names_the_module(tmp_path):
    pytest.importorskip('onnx')
    register_traceable_module(ExpFCNHead)
    try:
        with pytest.raises(ExportError, match=r"decode_head \(ExpFCNHead\): .*'exp'"):
            export_onnx(fcn_model_with(ExpFCNHead), str(tmp_path / 'model.onnx'), SHAPE, verify=False)
    finally:
        TRACEABLE_MODULES.discard(ExpFCNHead)
    assert list(tmp_path.iterdir()) == []


def test_random_nmf_bases_and_dynamic_shapes_are_refused(tmp_path):
    pytest.importorskip('onnx')
    with pytest.raises(ExportError, match='nmf_seed'):
        export_onnx(build_segmentor(DFORMER, nmf_seed=None), str(tmp_path / 'a.onnx'), SHAPE, verify=False)
    with pytest.raises(ExportError, match='dynamic H and W'):
        export_onnx(build_segmentor(DFORMER, 'FCNHead'), str(tmp_path / 'b.onnx'), SHAPE, dynamic_shape=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('shape', [(60, 64), (64, 100), (0, 64), (64,)])
def test_shape_must_be_multiples_of_32(shape):
    with pytest.raises(ValueError, match='multiples of 32|must be \\(H, W\\)'):
        check_shape(shape)
    assert check_shape((480, 640)) == (480, 640)


def test_missing_onnx_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnx', None)  # import onnx now fails as if it were not installed
    with pytest.raises(ImportError, match=r"'onnx' package.*requirements/deploy\.txt"):
        require('onnx')
    with pytest.raises(ImportError, match='pip install'):
        export_onnx(build_segmentor(DFORMER, 'FCNHead'), str(tmp_path / 'model.onnx'), SHAPE)
    assert list(tmp_path.iterdir()) == []


def test_toolbox_imports_without_onnx():
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None; "
            "from dformer_seg import runtime; runtime.setup(); import dformer_seg.apis, dformer_seg.deploy; print('ok')")
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith('ok'), result.stderr[-2000:]
