"""Op emitters that no exported model reaches, checked on their own against numpy through ONNX Runtime."""
import numpy as np
import pytest

from dformer_seg.deploy import OP_EMITTERS
from dformer_seg.deploy.graph import GraphBuilder
from test_ops.numpy_ops import numpy_softmax_cross_entropy


def run_graph(build, inputs):
    """Build a graph whose inputs are ``inputs`` (name -> array) with ``build(*traced)``; run it in ONNX Runtime."""
    onnxruntime = pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    graph = GraphBuilder(opset=18)
    traced = [graph.add_input(name, array.shape, str(array.dtype)) for name, array in inputs.items()]
    graph.add_output(build(*traced), 'out')
    session = onnxruntime.InferenceSession(graph.to_model().SerializeToString(), providers=['CPUExecutionProvider'])
    return session.run(None, inputs)[0]


@pytest.mark.parametrize('ignore_index', [None, 255])
def test_softmax_cross_entropy(ignore_index):
    rng = np.random.default_rng(5)
    logits = rng.uniform(-4, 4, size=(2, 5, 3, 4)).astype(np.float32)
    label = rng.integers(0, 5, size=(2, 3, 4)).astype(np.int64)
    if ignore_index is not None:
        label[1, 0, :2] = ignore_index
    out = run_graph(lambda x, y: OP_EMITTERS['softmax_cross_entropy'](x, y, ignore_index),
                    dict(logits=logits, label=label))
    np.testing.assert_allclose(out, numpy_softmax_cross_entropy(logits, label, ignore_index), rtol=1e-5, atol=1e-5)
