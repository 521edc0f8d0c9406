"""Op emitters that no exported model reaches, checked on their own against numpy through ONNX Runtime."""
import numpy as np
import pytest
from test_ops.numpy_ops import numpy_adamw_step, numpy_batch_norm_train, numpy_softmax_cross_entropy

from dformer_seg.deploy import OP_EMITTERS
from dformer_seg.deploy.graph import GraphBuilder


def run_graph(build, inputs):
    """Build a graph whose inputs are ``inputs`` (name -> array) with ``build(*traced)``; run it in ONNX Runtime."""
    onnxruntime = pytest.importorskip('onnxruntime')
    pytest.importorskip('onnx')
    graph = GraphBuilder(opset=18)
    traced = [graph.add_input(name, array.shape, str(array.dtype)) for name, array in inputs.items()]
    outputs = build(*traced)
    for index, output in enumerate(outputs if isinstance(outputs, tuple) else (outputs,)):
        graph.add_output(output, f'out{index}')
    session = onnxruntime.InferenceSession(graph.to_model().SerializeToString(), providers=['CPUExecutionProvider'])
    results = session.run(None, inputs)
    return tuple(results) if isinstance(outputs, tuple) else results[0]


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


def test_adamw_step():
    rng = np.random.default_rng(6)
    arrays = dict(param=rng.uniform(-1, 1, (3, 5)), grad=rng.uniform(-1, 1, (3, 5)),
                  exp_avg=rng.uniform(-0.1, 0.1, (3, 5)), exp_avg_sq=rng.uniform(0, 0.01, (3, 5)))
    arrays = {name: value.astype(np.float32) for name, value in arrays.items()}
    options = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, step=4)
    outputs = run_graph(lambda *traced: OP_EMITTERS['adamw_step'](*traced, **options), arrays)
    for out, expected in zip(outputs, numpy_adamw_step(**arrays, **options)):
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)


def test_batch_norm_train():
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 3, (2, 3, 4, 5)).astype(np.float32)
    weight, bias = rng.uniform(0.5, 1.5, 3).astype(np.float32), rng.uniform(-1, 1, 3).astype(np.float32)
    outputs = run_graph(lambda t: OP_EMITTERS['batch_norm_train'](t, weight, bias, 1e-5), dict(x=x))
    for out, expected in zip(outputs, numpy_batch_norm_train(x, weight, bias, 1e-5)):
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
