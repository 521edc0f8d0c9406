"""tools/analysis/robustness.py end to end on a 3-image demo set with a mini model: the table, its files, the
report, the seeding, and the refusals of bad input."""
import csv
import json
import os
import shutil
import subprocess
import sys

import pytest

from dformer_seg.apis import init_model
from dformer_seg.datasets.demo import DEMO_CLASSES, generate_demo_dataset
from dformer_seg.utils.checkpoint import save_checkpoint

from script_loading import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/analysis/robustness.py', 'robustness_tool')


@pytest.fixture(scope='module')
def mini_model(tmp_path_factory):
    """A config over a 3-image demo test set and a checkpoint of its mini model (seeded random weights)."""
    import jittor as jt
    folder = tmp_path_factory.mktemp('mini')
    data_root = str(folder / 'demo_rgbd')
    generate_demo_dataset(data_root, seed=0, num_train=1, num_test=3, size=(H, W))
    config = str(folder / 'mini.py')
    with open(config, 'w') as f:
        f.write(CONFIG_TEXT.format(data_root=data_root))
    jt.set_global_seed(0)
    model = init_model(config, device='cpu')
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    checkpoint = str(folder / 'mini.pkl')
    save_checkpoint(checkpoint, weights, meta=dict(CLASSES=list(DEMO_CLASSES)))
    return config, checkpoint


def test_table_files_and_report(tool, mini_model, tmp_path):
    config, checkpoint = mini_model
    out, report = str(tmp_path / 'out'), str(tmp_path / 'report')
    table = tool.main([config, checkpoint, '--corruptions', 'missing_depth', 'hole_blobs+low_light',
                       '--severities', '5', '1', '--out', out, '--report', report,
                       '--work-dir', str(tmp_path / 'work'), '--device', 'cpu'])
    assert table['severities'] == [1, 5] and list(table['corruptions']) == ['missing_depth', 'hole_blobs+low_light']
    entry = table['corruptions']['hole_blobs+low_light']
    assert entry['modality'] == 'both' and len(entry['scores']) == 2
    assert entry['mean'] == pytest.approx(sum(entry['scores']) / 2)
    assert entry['relative'] == pytest.approx(entry['mean'] / table['clean'])
    # the corruption reaches the model: a dark, holed input changes the mini model's predictions
    assert entry['scores'][1] != table['clean']

    with open(os.path.join(out, 'robustness.json')) as f:
        saved = json.load(f)
    assert saved['clean'] == table['clean'] and saved['run']['seed'] == 0
    with open(os.path.join(out, 'robustness.csv'), newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['corruption', 'modality', 'severity_1', 'severity_5', 'mean', 'relative_to_clean']
    assert rows[1][0] == 'clean' and float(rows[1][4]) == pytest.approx(table['clean'], abs=1e-4)
    assert float(rows[3][3]) == pytest.approx(entry['scores'][1], abs=1e-4)
    assert os.path.getsize(os.path.join(out, 'robustness.png')) > 0

    page = open(os.path.join(report, 'index.html'), encoding='utf-8').read()
    assert 'Robustness to sensor corruptions' in page and 'hole_blobs+low_light' in page
    assert 'The worst images' in page and 'mIoU per depth range' in page and 'Not computed' not in page
    assert 'inference' in page and 'whole image' in page
    assert os.path.isfile(os.path.join(report, 'images', 'worst_00_error.png'))

    # the same seed gives the same numbers; another seed other corrupted images
    again = tool.main([config, checkpoint, '--corruptions', 'hole_blobs+low_light', '--severities', '5',
                       '--out', str(tmp_path / 'again'), '--work-dir', str(tmp_path / 'work2'), '--device', 'cpu'])
    assert again['clean'] == table['clean']
    assert again['corruptions']['hole_blobs+low_light']['scores'] == [entry['scores'][1]]


def test_corruption_groups_expand(tool):
    assert tool.expand_corruptions(['depth']) == ['edge_holes', 'hole_blobs', 'depth_noise', 'misalignment',
                                                  'quantisation', 'depth_scale', 'missing_depth']
    assert tool.expand_corruptions(['rgb', 'jpeg', 'depth_noise+jpeg']) == [
        'rgb_noise', 'motion_blur', 'low_light', 'jpeg', 'depth_noise+jpeg']
    assert len(tool.expand_corruptions(['all'])) == 11


def test_bad_input_is_refused_before_evaluating(tool, mini_model, tmp_path, capsys):
    config, checkpoint = mini_model
    base = [config, checkpoint, '--work-dir', str(tmp_path / 'work'), '--device', 'cpu']
    with pytest.raises(SystemExit):
        tool.parse_args(base + ['--corruptions', 'fog'])
    assert "unknown corruption 'fog'; known: depth: edge_holes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(base + ['--severities', '0', '6'])
    assert '--severities must be from 1 to 5, got [0, 6]' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(base + ['--out', str(tmp_path / 'x'), '--report', str(tmp_path / 'x')])
    assert '--report and --out must be different folders' in capsys.readouterr().err

    report = tmp_path / 'report'
    report.mkdir()
    (report / 'old.html').write_text('')
    with pytest.raises(SystemExit) as exit_info:
        tool.main(base + ['--corruptions', 'jpeg', '--report', str(report)])
    assert exit_info.value.code == 1
    assert 'exists and is not empty' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(base + ['--tta'])
    assert '--tta needs tta_cfg' in capsys.readouterr().err
    assert not os.path.exists(str(tmp_path / 'work' / 'robustness'))


def test_the_tool_offers_the_severities_of_the_corruptions(tool):
    from dformer_seg.datasets.pipelines.corruptions import SEVERITIES
    assert tuple(tool.SEVERITIES) == tuple(SEVERITIES)


def test_tools_test_writes_the_report(mini_model, tmp_path):
    """tools/test.py --report DIR: the page and its images; a folder with files is refused before evaluating."""
    from script_loading import load_script
    tester = load_script('tools/test.py', 'test_tool_for_report')
    config, checkpoint = mini_model
    report = tmp_path / 'report'
    base = [config, checkpoint, '--work-dir', str(tmp_path / 'work'), '--device', 'cpu', '--report', str(report)]
    metrics = tester.main(base)
    assert 'mIoU' in metrics
    page = (report / 'index.html').read_text()
    assert 'mIoU' in page and os.path.isdir(report / 'images') and os.listdir(report / 'images')
    with pytest.raises(SystemExit) as exit_info:
        tester.main(base)
    assert exit_info.value.code == 1
    assert tester.main(base + ['--overwrite'])['mIoU'] == metrics['mIoU']


@pytest.mark.skipif(shutil.which('mpirun') is None, reason='OpenMPI (mpirun) is not installed')
def test_two_mpi_processes_give_the_table_and_report_of_one(mini_model, tmp_path):
    """mpirun -np 2: each process evaluates its shard of the test set; the table (and the report of the worst
    images, ranked over both processes) equals a one-process run's."""
    config, checkpoint = mini_model
    tool_path = os.path.join(REPO, 'tools', 'analysis', 'robustness.py')
    args = [config, checkpoint, '--corruptions', 'missing_depth', 'rgb_noise', '--severities', '3', '--device', 'cpu']
    launch = ['mpirun', '-np', '2', '-x', 'OMP_NUM_THREADS'] + (['--allow-run-as-root'] if os.geteuid() == 0 else [])
    env = dict(os.environ, OMP_NUM_THREADS='1')
    tables = {}
    for name, prefix in (('one', []), ('two', launch)):
        out = str(tmp_path / name)
        result = subprocess.run(prefix + [sys.executable, tool_path, *args, '--out', out, '--work-dir',
                                          str(tmp_path / f'work_{name}'), '--report', str(tmp_path / f'report_{name}')],
                                env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        with open(os.path.join(out, 'robustness.json')) as f:
            tables[name] = json.load(f)
        assert os.path.isfile(str(tmp_path / f'report_{name}' / 'index.html'))
    assert tables['two']['clean'] == pytest.approx(tables['one']['clean'], abs=1e-6)
    for corruption, entry in tables['one']['corruptions'].items():
        assert tables['two']['corruptions'][corruption]['scores'] == pytest.approx(entry['scores'], abs=1e-6)
    assert sorted(os.listdir(tmp_path / 'report_two' / 'images')) == sorted(os.listdir(tmp_path / 'report_one' / 'images'))
