"""estimate_depth.py with a tiny ONNX "depth model" built here: its disparity is the mean of the input channels."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tools', 'dataset_converters'))

import estimate_depth  # noqa: E402


def mean_channel_model(path, size=('h', 'w')):
    """(1, 3, H, W) -> (1, 1, H, W): the channel mean (bright = 'near' when read as disparity)."""
    from onnx import TensorProto, helper, save

    node = helper.make_node('ReduceMean', ['image'], ['disparity'], axes=[1], keepdims=1)
    graph = helper.make_graph(
        [node], 'mean_depth', [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, *size])],
        [helper.make_tensor_value_info('disparity', TensorProto.FLOAT, [1, 1, *size])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)]), path)
    return path


def write_images(folder):
    """Three 20x30 images in two sub-folders, brighter on the right (nearer for a disparity model)."""
    ramp = np.tile(np.linspace(0, 250, 30, dtype=np.float32), (20, 1)).astype(np.uint8)
    for rel in ('a/one.JPEG', 'a/two.png', 'b/three.jpg'):
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cv2.imwrite(path, np.repeat(ramp[:, :, None], 3, axis=2))


def test_writes_8bit_depth_near_0_far_255_and_resumes(tmp_path, capsys):
    model = mean_channel_model(str(tmp_path / 'model.onnx'))
    images, out = str(tmp_path / 'images'), str(tmp_path / 'depth')
    write_images(images)
    assert estimate_depth.main([model, images, out, '--prediction', 'disparity', '--input-size', '16', '16']) == 0
    depth = cv2.imread(os.path.join(out, 'a', 'one.png'), cv2.IMREAD_UNCHANGED)
    assert depth.dtype == np.uint8 and depth.shape == (20, 30)
    assert depth.min() == 0 and depth.max() == 255
    assert depth[:, -1].mean() < 10 and depth[:, 0].mean() > 245  # bright (high disparity) = near = 0
    assert sorted(os.listdir(os.path.join(out, 'a'))) == ['one.png', 'two.png']  # no temporary files left

    os.remove(os.path.join(out, 'b', 'three.png'))
    before = os.path.getmtime(os.path.join(out, 'a', 'one.png'))
    capsys.readouterr()
    assert estimate_depth.main([model, images, out, '--prediction', 'depth', '--input-size', '16', '16']) == 0
    assert '2 already have depth' in capsys.readouterr().out
    assert os.path.getmtime(os.path.join(out, 'a', 'one.png')) == before
    flipped = cv2.imread(os.path.join(out, 'b', 'three.png'), cv2.IMREAD_UNCHANGED)
    assert flipped[:, -1].mean() > 245  # read as depth: bright = far


def test_to_uint8_depth_of_a_constant_and_a_broken_prediction():
    assert not estimate_depth.to_uint8_depth(np.ones((3, 3)), 'depth').any()
    with pytest.raises(estimate_depth.EstimationError, match='NaN'):
        estimate_depth.to_uint8_depth(np.array([[np.nan, 1.0]]), 'depth')


def test_fixed_model_size_and_bad_folders_are_named(tmp_path):
    model = mean_channel_model(str(tmp_path / 'fixed.onnx'), size=(8, 8))
    estimator = estimate_depth.OnnxDepthEstimator(model)
    assert estimator.input_size == (8, 8)
    with pytest.raises(estimate_depth.EstimationError, match='takes 8x8 inputs'):
        estimate_depth.OnnxDepthEstimator(model, input_size=(16, 16))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(estimate_depth.EstimationError, match='no images'):
        estimate_depth.estimate_folder(estimator, str(tmp_path / 'empty'), str(tmp_path / 'out'), 'depth')
    result = subprocess.run([sys.executable, 'tools/dataset_converters/estimate_depth.py', model,
                             str(tmp_path / 'missing'), str(tmp_path / 'out'), '--prediction', 'depth'],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and 'image folder not found' in result.stderr
