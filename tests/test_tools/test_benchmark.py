"""tools/analysis/benchmark.py: argument checks, profile summary, and short real runs at a small shape."""
import os

import pytest

from script_loading import load_script

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, 'tools', 'analysis', 'benchmark.py')
TINY = os.path.join(REPO, 'configs', 'dformer', 'dformer_tiny_nyu.py')


@pytest.fixture(scope='module')
def benchmark_tool():
    return load_script(TOOL, 'benchmark_tool')


def test_defaults_and_bad_arguments(benchmark_tool):
    args = benchmark_tool.parse_args([TINY])
    assert (tuple(args.shape), args.batch, args.repeat, args.train) == ((480, 640), 1, 10, False)
    assert benchmark_tool.parse_args([TINY, '--train']).batch == 2
    for bad in (['--repeat', '0'], ['--batch', '0'], ['--shape', '16', '16'], ['--warmup', '-1']):
        with pytest.raises(SystemExit):
            benchmark_tool.parse_args([TINY] + bad)


def test_kernel_keys_are_grouped_by_op_type(benchmark_tool):
    classify = benchmark_tool.classify_kernel
    assert classify('code\u00abIN_SIZE:2\u00abHEADER:#include <dnnl.h>\u00abCODE:// fastop_bmm\n...') == 'fast-op bmm'
    assert classify('mkl_conv\u00abTxd:float32\u00abXFORMAT:abcd') == 'conv (oneDNN)'
    assert classify('mkl_conv_backward_w\u00abTxd:float32') == 'conv weight-grad (oneDNN)'
    assert classify('mkl_matmul\u00abT:float32') == 'matmul 2-D (oneDNN)'
    fused_bmm = ('\u00abopkey0:broadcast_to\u00abTx:float32\u00abopkey1:broadcast_to'
                 '\u00abopkey2:binary\u00abOP:multiply'
                 '\u00abopkey3:reduce\u00abOP:add')
    assert classify(fused_bmm).startswith('batched matmul')
    assert classify('\u00abopkey0:binary\u00abOP:add\u00abopkey1:unary\u00abOP:exp').startswith('elementwise')
    assert classify('\u00abopkey0:reindex\u00abopkey1:binary').startswith('gather')


def test_profile_summary_sums_per_type_and_per_call(benchmark_tool):
    header = ['Name', 'FileName', 'Count', 'TotalTime', 'AvgTime']
    rows = [['mkl_matmul\u00abT:float32', 'f', '4', '6000000', '0'],
            ['mkl_conv\u00abTx:f32', 'f', '2', '2000000', '0'],
            ['mkl_matmul\u00abT:float64', 'f', '2', '2000000', '0']]
    text = benchmark_tool.summarize_profile([header] + rows, runs=2, top=2)
    assert 'Kernel time per call: 5.0 ms over 3 distinct kernels' in text
    matmul_line = next(line for line in text.splitlines() if line.startswith('matmul 2-D'))
    assert matmul_line.split()[-3:] == ['3', '4.0', '80.0%']  # 6 launches / 2 runs, 8 ms / 2 runs
    assert benchmark_tool.summarize_profile([], runs=1, top=1) == 'profiler recorded nothing'


def test_inference_and_profile_run(benchmark_tool, capsys):
    result = benchmark_tool.main([TINY, '--shape', '64', '96', '--repeat', '2', '--warmup', '0', '--profile',
                                  '--profile-runs', '1', '--top', '3'])
    out = capsys.readouterr().out
    assert 0 < result['min_ms'] <= result['median_ms'] <= result['max_ms']
    for expected in ('model build', 'first call', 'latency over 2 calls', 'images/s', 'peak resident memory',
                     'Kernel time per call', 'fast-op', 'Slowest 3 kernels'):
        assert expected in out, expected


def test_train_step_run(benchmark_tool, capsys):
    result = benchmark_tool.main([TINY, '--shape', '64', '64', '--repeat', '1', '--warmup', '0', '--train',
                                  '--cfg-options', 'model.backbone.drop_path_rate=0.0'])
    out = capsys.readouterr().out
    assert 'train step (forward + backward + optimizer step), batch 2, 64x64' in out
    assert result['median_ms'] > 0
