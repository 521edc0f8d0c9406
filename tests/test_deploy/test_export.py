"""ONNX export of reduced DFormer (v1) segmentors with every head: onnx.checker and ONNX Runtime parity.

DFormerv2 is in test_export_dformerv2.py (each file pays Jittor's kernel loading once)."""
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from dformer_seg.deploy import VerificationError, export_onnx, ort_session  # noqa: E402
from dformer_seg.deploy.export import random_inputs  # noqa: E402

from deploy_models import DFORMER, HEADS, SHAPE, build_segmentor, check_light_ham_head_export, export_and_check  # noqa: E402


def test_dformer_with_light_ham_head(tmp_path):
    check_light_ham_head_export(DFORMER, tmp_path)


@pytest.mark.parametrize('head', sorted(set(HEADS) - {'LightHamHead'}))
def test_other_heads(head, tmp_path):
    export_and_check(build_segmentor(DFORMER, head), tmp_path / f'{head}.onnx')


def test_labels_output_is_the_argmax_of_the_jittor_logits(tmp_path):
    import jittor as jt

    model = build_segmentor(DFORMER, 'FCNHead')
    path = tmp_path / 'labels.onnx'
    export_and_check(model, path, output='labels')
    session = ort_session(str(path))
    assert [(o.name, o.type) for o in session.get_outputs()] == [('labels', 'tensor(int64)')]
    rgb, depth = random_inputs(SHAPE, 3, seed=5)
    labels = session.run(None, dict(rgb=rgb, depth=depth))[0]
    with jt.no_grad():
        expected = model.encode_decode(jt.array(rgb), jt.array(depth)).numpy().argmax(axis=1)
    assert labels.shape == (1,) + SHAPE and (labels == expected).mean() >= 0.999


def test_failed_verification_writes_nothing(tmp_path):
    path = tmp_path / 'model.onnx'
    with pytest.raises(VerificationError, match='nothing was written'):
        export_onnx(build_segmentor(DFORMER, 'FCNHead'), str(path), SHAPE, max_abs_error=-1.0)
    assert list(tmp_path.iterdir()) == []




def test_opset_17_writes_reductions_with_axes_attributes(tmp_path):
    import onnx

    path = tmp_path / 'opset17.onnx'
    export_and_check(build_segmentor(DFORMER, 'UPerHead'), path, opset=17)  # the PPM's 1x1 pooling: ReduceMean
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 17
    assert any(node.op_type == 'ReduceMean' and any(a.name == 'axes' for a in node.attribute)
               for node in model.graph.node)
