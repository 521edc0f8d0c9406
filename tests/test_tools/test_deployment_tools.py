"""tools/deployment/export_onnx.py, inference from an .onnx file (inference_model, tools/infer.py) and
tools/analysis/benchmark.py --backend onnxruntime, on a reduced DFormer at 64x64."""
import os

import cv2
import numpy as np
import pytest

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from dformer_seg.apis import inference_model, init_model  # noqa: E402
from dformer_seg.utils.checkpoint import save_checkpoint  # noqa: E402

from script_loading import load_script  # noqa: E402

SIZE = 64
CLASSES = ['wall', 'floor', 'chair', 'box', 'ball']
CONFIG_TEXT = """
_img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])
test_dataloader = dict(batch_size=1, dataset=dict(
    type='DemoRGBDDataset', data_root='unused',
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
              dict(type='Normalize', **_img_norm), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
model = dict(
    type='RGBDEncoderDecoder',
    backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[2, 2, 2, 2], depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
    decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                     ham_channels=32, ham_kwargs=dict(MD_R=8), num_classes=5, nmf_seed=0,
                     norm_cfg=dict(type='BN', eps=1e-3)),
    test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(48, 48)))
device = 'cpu'
"""


@pytest.fixture(scope='module')
def export_tool():
    return load_script('tools/deployment/export_onnx.py', 'export_onnx_tool')


@pytest.fixture(scope='module')
def exported(tmp_path_factory, export_tool):
    """(config, checkpoint, onnx path) of the reduced model, exported by the tool at its crop size."""
    folder = tmp_path_factory.mktemp('deploy')
    config = str(folder / 'mini.py')
    with open(config, 'w') as f:
        f.write(CONFIG_TEXT)
    model = init_model(config, device='cpu')
    rng = np.random.default_rng(0)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    weights['decode_head.conv_seg.bias'] = rng.normal(0, 0.5, (5,)).astype(np.float32)
    checkpoint = str(folder / 'mini.pkl')
    save_checkpoint(checkpoint, weights, meta=dict(CLASSES=CLASSES))
    onnx_path = str(folder / 'mini.onnx')
    export_tool.main([config, checkpoint, '--out', onnx_path])  # --shape: the sliding-window crop (64, 64)
    return config, checkpoint, onnx_path


def test_export_tool_writes_a_verified_model(exported, capsys):
    import onnx

    model = onnx.load(exported[2])
    onnx.checker.check_model(model)
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata['dformer_seg.input_shape'] == '64,64' and metadata['dformer_seg.depth_channels'] == '1'
    assert 'LightHamHead' in metadata['dformer_seg.config'] and 'chair' in metadata['dformer_seg.dataset_meta']


def _fails(export_tool, argv, match, capsys):
    with pytest.raises(SystemExit) as info:
        export_tool.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 1 and err.startswith('error: ') and match in err and 'Traceback' not in err, err


def test_export_tool_refuses_bad_input(exported, export_tool, tmp_path, capsys):
    config, checkpoint, _ = exported
    out = str(tmp_path / 'bad.onnx')
    _fails(export_tool, [config, checkpoint, '--out', out, '--shape', '60', '64'], 'multiples of 32', capsys)
    _fails(export_tool, [config, checkpoint, '--out', out, '--opset', '11'], 'opset 11', capsys)
    _fails(export_tool, [config, checkpoint, '--out', out, '--cfg-options', 'model.test_cfg.mode=whole'],
           'pass --shape', capsys)
    _fails(export_tool, [config, checkpoint, '--out', out, '--cfg-options', 'model.decode_head.nmf_seed=None'],
           'nmf_seed', capsys)
    # A checkpoint of another model: 7 classes instead of 5.
    other = init_model(config, device='cpu')
    weights = {k: v.numpy() for k, v in other.state_dict().items()}
    weights['decode_head.conv_seg.weight'] = np.zeros((7, 16, 1, 1), np.float32)
    wrong = str(tmp_path / 'wrong.pkl')
    save_checkpoint(wrong, weights)
    _fails(export_tool, [config, wrong, '--out', out], 'decode_head.conv_seg.weight', capsys)
    assert sorted(os.listdir(tmp_path)) == ['wrong.pkl']
    # Destinations that cannot be written are refused before the model is built.
    _fails(export_tool, [config, wrong, '--out', str(tmp_path / 'wrong.pkl' / 'sub' / 'm.onnx')],
           'wrong.pkl is a file', capsys)
    _fails(export_tool, [config, wrong, '--out', str(tmp_path)], 'is a folder', capsys)


def _write_pairs(folder, count=2):
    rng = np.random.default_rng(1)
    os.makedirs(os.path.join(folder, 'rgb'))
    os.makedirs(os.path.join(folder, 'depth'))
    for i in range(count):
        cv2.imwrite(os.path.join(folder, 'rgb', f'{i}.png'), rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
        cv2.imwrite(os.path.join(folder, 'depth', f'{i}.png'), rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8))
    return os.path.join(folder, 'rgb'), os.path.join(folder, 'depth')


def test_inference_model_gives_the_same_results_from_onnx(exported, tmp_path):
    config, checkpoint, onnx_path = exported
    rgb, depth = _write_pairs(str(tmp_path))
    pairs = ([os.path.join(rgb, n) for n in ('0.png', '1.png')], [os.path.join(depth, n) for n in ('0.png', '1.png')])
    jittor_model, onnx_model = init_model(config, checkpoint, device='cpu'), init_model(config, onnx_path)
    assert onnx_model.dataset_meta['classes'] == CLASSES == jittor_model.dataset_meta['classes']
    for expected, result in zip(inference_model(jittor_model, *pairs, return_scores=True),
                                inference_model(onnx_model, *pairs, return_scores=True)):
        np.testing.assert_array_equal(result.label_map, expected.label_map)
        np.testing.assert_allclose(result.scores, expected.scores, atol=1e-5)
    # The file alone (config and classes stored inside) is enough.
    from dformer_seg.deploy import OnnxSegmentor
    standalone = OnnxSegmentor(onnx_path)
    assert standalone.dataset_meta['classes'] == CLASSES and standalone.test_cfg['mode'] == 'slide'
    with pytest.raises(ValueError, match='exported for 64x64 inputs, got 32x32'):
        standalone.encode_decode(np.zeros((1, 3, 32, 32), np.float32), np.zeros((1, 1, 32, 32), np.float32))


def test_infer_tool_onnx_backend_writes_the_same_files(exported, tmp_path):
    config, checkpoint, onnx_path = exported
    infer_tool = load_script('tools/infer.py', 'infer_tool_onnx')
    rgb, depth = _write_pairs(str(tmp_path))
    outputs = {}
    for name, weights, extra in (('jittor', checkpoint, []), ('onnx', onnx_path, ['--backend', 'onnxruntime'])):
        outputs[name] = str(tmp_path / name)
        infer_tool.main([config, weights, '--rgb', rgb, '--depth', depth, '--out', outputs[name], '--overlay',
                         '--legend'] + extra)
    for sub in ('labels', 'overlays'):
        names = sorted(os.listdir(os.path.join(outputs['jittor'], sub)))
        assert names == ['0.png', '1.png']
        for name in names:
            a = cv2.imread(os.path.join(outputs['jittor'], sub, name), cv2.IMREAD_UNCHANGED)
            b = cv2.imread(os.path.join(outputs['onnx'], sub, name), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(a, b)
    with pytest.raises(SystemExit):
        infer_tool.parse_args([config, checkpoint, '--rgb', rgb, '--depth', depth, '--out', 'x',
                               '--backend', 'onnxruntime'])


def test_benchmark_onnxruntime_backend(exported, capsys):
    benchmark = load_script('tools/analysis/benchmark.py', 'benchmark_tool_onnx')
    result = benchmark.main(['--backend', 'onnxruntime', exported[2], '--repeat', '2', '--warmup', '0',
                             '--threads', '1'])
    out = capsys.readouterr().out
    assert 0 < result['min_ms'] <= result['median_ms'] <= result['max_ms']
    assert 'ONNX Runtime CPUExecutionProvider, 1 threads, batch 1, 64x64' in out
    for bad in ([exported[2]], ['--backend', 'onnxruntime', exported[0]],
                ['--backend', 'onnxruntime', exported[2], '--train']):
        with pytest.raises(SystemExit):
            benchmark.parse_args(bad)
