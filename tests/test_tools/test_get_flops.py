"""tools/analysis/get_flops.py on the real NYU configs.

The counter traces lazily (no kernel runs), so even 480x640 costs well under a second per model.
"""
import os
import subprocess
import sys

import pytest

from script_loading import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'analysis', 'get_flops.py')

# The DFormer / DFormerv2 papers at 480x640 (thop GFLOPs, params in M).
PUBLISHED = {
    'configs/dformer/dformer_tiny_nyu.py': (11.75, 6.0),
    'configs/dformer/dformer_small_nyu.py': (25.67, 18.7),
    'configs/dformer/dformer_base_nyu.py': (41.94, 29.5),
    'configs/dformer/dformer_large_nyu.py': (65.70, 39.0),
    'configs/dformerv2/dformerv2_s_nyu.py': (33.85, 26.7),
    'configs/dformerv2/dformerv2_b_nyu.py': (67.20, 53.9),
    'configs/dformerv2/dformerv2_l_nyu.py': (124.13, 95.5),
}


@pytest.fixture(scope='module')
def get_flops():
    return load_script(TOOL, 'get_flops_tool')


@pytest.fixture
def run(get_flops, monkeypatch):
    monkeypatch.setenv('DFORMER_SEG_DEVICE', 'auto')  # the tool sets it; keep the test process unchanged

    def run_tool(*argv):
        return get_flops.main(list(argv))
    return run_tool


@pytest.mark.parametrize('config', sorted(PUBLISHED))
def test_thop_count_and_params_agree_with_the_papers(run, capsys, config):
    gflops, mparams = PUBLISHED[config]
    report = run(os.path.join(REPO, config))
    assert report.thop_flops / 1e9 == pytest.approx(gflops, rel=0.01)
    assert report.params.trainable / 1e6 == pytest.approx(mparams, rel=0.01)
    assert report.full_flops > report.thop_flops
    out = capsys.readouterr().out
    assert f'{report.thop_flops / 1e9:.3f} G' in out and f'{report.full_flops / 1e9:.3f} G' in out
    assert 'img 1x3x480x640' in out and 'backbone' in out and 'decode_head' in out


def test_shape_and_cfg_options(run, capsys):
    config = os.path.join(REPO, 'configs/dformer/dformer_tiny_nyu.py')
    narrow = run(config, '--shape', '64', '96', '--cfg-options', 'model.decode_head.channels=256')
    wide = run(config, '--shape', '64', '96', '--depth', '2')
    assert 'img 1x3x64x96' in capsys.readouterr().out
    # The head works at stride 8 (8 x 12 positions); 256 fewer channels in the align conv
    # (512 inputs) with its BatchNorm, and in the 40-class classifier.
    positions = 8 * 12
    assert wide.thop_flops - narrow.thop_flops == positions * 256 * (512 + 4 + 40)
    assert wide.params.trainable - narrow.params.trainable == 256 * (512 + 2 + 40)


def test_bad_arguments(run):
    config = os.path.join(REPO, 'configs/dformer/dformer_tiny_nyu.py')
    with pytest.raises(SystemExit):
        run(config, '--shape', '0', '64')
    with pytest.raises(SystemExit):
        run(config, '--device', 'tpu')


def test_command_line(tmp_path):
    result = subprocess.run([sys.executable, TOOL, 'configs/dformerv2/dformerv2_s_nyu.py', '--shape', '64', '96',
                             '--device', 'cpu'], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert 'GFLOPs (thop, as in papers)' in result.stdout and 'Top op types' in result.stdout
