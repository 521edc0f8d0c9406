"""tools/analysis/analyze_logs.py, confusion_matrix.py and depth_breakdown.py: hand-checked numbers on small
inputs, and the two evaluation tools end to end on a tiny demo set with a mini model."""
import json
import os

import cv2
import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.datasets.demo import DEMO_CLASSES, generate_demo_dataset
from dformer_seg.utils.checkpoint import save_checkpoint

from script_loading import load_script

H, W = 40, 56
CONFIG_TEXT = """
_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])
test_dataloader = dict(batch_size=2, num_workers=0, shuffle=False, dataset=dict(
    type='DemoRGBDDataset', data_root={data_root!r}, split='test',
    pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
              dict(type='Normalize', **_norm), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
test_evaluator = dict(type='IoUMetric')
model = dict(
    type='RGBDEncoderDecoder',
    backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
    decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                     ham_channels=32, num_classes=6, nmf_seed=0, norm_cfg=dict(type='BN', eps=1e-3)),
    test_cfg=dict(mode='whole'))
device = 'cpu'
"""


def write_log(path, records):
    with open(path, 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')


def train_record(epoch, it, loss, time):
    return dict(mode='train', epoch=epoch, iter=it, lr=1e-3, memory=100, time=time, data_time=0.01,
                **{'decode.loss_ce': loss, 'decode.acc_seg': 50.0, 'loss': loss})


@pytest.fixture(scope='module')
def analyze_logs():
    return load_script('tools/analysis/analyze_logs.py', 'analyze_logs_tool')


def test_curves_and_train_time(analyze_logs, tmp_path, capsys):
    log = str(tmp_path / 'run.log.json')
    write_log(log, [train_record(1, 2, 2.0, 9.0), train_record(1, 4, 1.5, 0.4), train_record(1, 6, 1.2, 0.2),
                    dict(mode='val', epoch=1, iter=6, aAcc=70.0, mIoU=30.5),
                    train_record(2, 8, 1.0, 0.5), train_record(2, 10, 0.9, 0.7),
                    dict(mode='val', epoch=2, iter=10, aAcc=80.0, mIoU=40.25)])
    records = analyze_logs.load_log(log)
    assert analyze_logs.resolve_key(records, 'loss_ce', log) == 'decode.loss_ce'
    iters, values = analyze_logs.series(records, 'mIoU')
    assert iters.tolist() == [6, 10] and values.tolist() == [30.5, 40.25]

    out = str(tmp_path / 'curves' / 'curve.png')
    analyze_logs.main(['plot_curve', log, log, '--keys', 'loss', 'mIoU', '--legend', 'a', 'b', '--out', out])
    image = cv2.imread(out)
    assert image is not None and image.shape[0] > image.shape[1] / 2  # two panels above each other

    # The first record (9.0 s: compilation) is left out: epoch 1 -> (0.4 + 0.2) / 2, epoch 2 -> (0.5 + 0.7) / 2
    (summary,) = analyze_logs.main(['cal_train_time', log])
    assert summary['slowest'] == (2, pytest.approx(0.6)) and summary['fastest'] == (1, pytest.approx(0.3))
    assert summary['std'] == pytest.approx(0.15) and summary['mean'] == pytest.approx(0.45)
    assert 'average iter time: 0.4500 s/iter' in capsys.readouterr().out
    with_first = analyze_logs.train_time(records, include_outliers=True)
    assert with_first['slowest'] == (1, pytest.approx((9.0 + 0.4 + 0.2) / 3))


def test_log_errors_name_the_problem(analyze_logs, tmp_path):
    log = str(tmp_path / 'bad.log.json')
    with open(log, 'w') as f:
        f.write(json.dumps(train_record(1, 1, 1.0, 0.1)) + '\n{not json\n')
    with pytest.raises(ValueError, match='bad.log.json:2 is not a JSON record'):
        analyze_logs.load_log(log)
    write_log(log, [train_record(1, 1, 1.0, 0.1)])
    with pytest.raises(KeyError, match=r"has no 'mDice'; it logs \[.*'decode.loss_ce'"):
        analyze_logs.resolve_key(analyze_logs.load_log(log), 'mDice', log)
    with pytest.raises(ValueError, match='one name per log'):
        analyze_logs.plot_curve([log], ['loss'], legend=['a', 'b'], out=str(tmp_path / 'x.png'))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        analyze_logs.load_log(str(tmp_path / 'missing.json'))


def test_confusion_matrix_plot_and_normalization(tmp_path):
    tool = load_script('tools/analysis/confusion_matrix.py', 'confusion_matrix_tool')
    matrix = np.array([[3, 1, 0], [0, 0, 0], [2, 0, 2]])
    np.testing.assert_allclose(tool.normalized_rows(matrix), [[75, 25, 0], [0, 0, 0], [50, 0, 50]])
    out = str(tmp_path / 'cm.png')
    tool.plot_confusion_matrix(matrix, ['wall', 'floor', 'sofa'], out, normalize=True, title='t')
    assert cv2.imread(out) is not None
    with pytest.raises(ValueError, match='must be 2x2'):
        tool.plot_confusion_matrix(matrix, ['a', 'b'], out)


@pytest.fixture(scope='module')
def mini_model(tmp_path_factory):
    """A config over a 3-image demo test set and a checkpoint of its mini model."""
    folder = tmp_path_factory.mktemp('mini')
    data_root = str(folder / 'demo_rgbd')
    generate_demo_dataset(data_root, seed=0, num_train=1, num_test=3, size=(H, W))
    config = str(folder / 'mini.py')
    with open(config, 'w') as f:
        f.write(CONFIG_TEXT.format(data_root=data_root))
    model = init_model(config, device='cpu')
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    weights['decode_head.conv_seg.bias'] = rng.normal(0, 0.5, 6).astype(np.float32)
    checkpoint = str(folder / 'mini.pkl')
    save_checkpoint(checkpoint, weights, meta=dict(CLASSES=list(DEMO_CLASSES)))
    return config, checkpoint


def test_confusion_matrix_and_depth_breakdown_on_a_checkpoint(mini_model, tmp_path):
    config, checkpoint = mini_model
    work = ['--work-dir', str(tmp_path / 'work'), '--device', 'cpu']
    confusion = load_script('tools/analysis/confusion_matrix.py', 'confusion_matrix_tool')
    out, show = str(tmp_path / 'cm.png'), str(tmp_path / 'show')
    matrix = confusion.main([config, checkpoint, '--out', out, '--normalize', '--show-dir', show, *work])
    assert matrix.sum() > 0.5 * 3 * H * W  # every non-void pixel of the 3 test images
    assert cv2.imread(out) is not None and len(os.listdir(show)) == 3

    breakdown = load_script('tools/analysis/depth_breakdown.py', 'depth_breakdown_tool')
    plot, worst = str(tmp_path / 'depth.png'), str(tmp_path / 'worst')
    # the demo depth is 8-bit with 255 = 10 m
    rows = breakdown.main([config, checkpoint, '--bins', '2', '4', '--scale', str(10 / 255), '--out', plot,
                           '--worst', '2', '--worst-dir', worst, *work])
    assert [row['name'] for row in rows] == ['missing', '<2m', '2-4m', '>=4m']
    assert sum(row['pixels'] for row in rows) == matrix.sum()  # the same pixels as the confusion matrix
    assert cv2.imread(plot) is not None
    panels = sorted(os.listdir(worst))
    assert len(panels) == 2 and panels[0].startswith('00_') and panels[1].startswith('01_')
    panel = cv2.imread(os.path.join(worst, panels[0]))
    assert panel.shape[1] >= 4 * W and panel.shape[0] > H  # RGB | depth | label | prediction, titled
