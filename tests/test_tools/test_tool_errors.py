"""tools/train.py, tools/test.py, tools/infer.py on bad input: one `error:` line and exit status 1, found before
any work is done; diverged weights are neither saved nor evaluated; sharded testing under MPI."""
import glob
import os
import re
import shutil
import subprocess
import sys

import jittor as jt
import numpy as np
import pytest
from test_train_test import CONFIG, REPO, data_root, small_model_and_data  # noqa: F401  (data_root: fixture)

from dformer_seg import cli, runtime
from dformer_seg.config import Config, ConfigError, parse_value
from dformer_seg.utils.checkpoint import save_checkpoint

from script_loading import load_script


@pytest.fixture(scope='module')
def trainer():
    return load_script('tools/train.py', 'trainer')


@pytest.fixture(scope='module')
def tester():
    return load_script('tools/test.py', 'tester')


def run_main(tool, argv, capsys):
    """``(exit status, stderr)`` of ``tool.main(argv)`` run in this process."""
    with pytest.raises(SystemExit) as exit_info:
        tool.main(argv)
    return exit_info.value.code, capsys.readouterr().err


def test_a_mistyped_option_is_one_error_line(trainer, data_root, tmp_path, capsys, monkeypatch):
    # Before: `train_dataloder.batch_size=2` trained with batch 8 and exit 0.
    argv = [CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options', *small_model_and_data(data_root),
            'train_dataloder.batch_size=2']
    code, err = run_main(trainer, argv, capsys)
    assert code == 1 and 'Traceback' not in err
    assert re.fullmatch(r"error: --cfg-options train_dataloder\.batch_size: unknown top-level config key "
                        r"'train_dataloder'; did you mean 'train_dataloader'.*\n", err)
    assert not os.path.exists(tmp_path / 'work')
    with pytest.raises(ConfigError, match='train_dataloder'):
        trainer.main(argv + ['--debug'])
    monkeypatch.setenv('DFORMER_SEG_DEBUG', '1')
    with pytest.raises(ConfigError, match='train_dataloder'):
        trainer.main(argv)


def test_a_mistyped_key_in_a_config_file_is_one_error_line(trainer, tmp_path, capsys):
    config = tmp_path / 'typo.py'
    config.write_text(f"_base_ = {CONFIG!r}\ntrain_dataloder = dict(batch_size=2)\n")
    code, err = run_main(trainer, [str(config), '--work-dir', str(tmp_path / 'work')], capsys)
    assert code == 1 and err.startswith(f"error: {config}: unknown top-level config key 'train_dataloder'")


@pytest.mark.skipif(jt.flags.use_cuda, reason='checks the refusal on a CPU-only run')
def test_data_and_checkpoint_errors_are_one_error_line(trainer, tester, data_root, tmp_path, capsys):
    missing_root = str(tmp_path / 'no_data')
    code, err = run_main(trainer, [CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                                      *small_model_and_data(missing_root)], capsys)
    assert code == 1 and re.fullmatch(rf"error: DemoRGBDDataset: data_root '{missing_root}' is not a folder.*\n",
                                      err), err
    garbage = tmp_path / 'garbage.pkl'
    garbage.write_bytes(b'not a checkpoint')
    code, err = run_main(tester, [CONFIG, str(garbage), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                                     *small_model_and_data(data_root)], capsys)
    assert code == 1 and err.startswith(f'error: {garbage}: not a readable checkpoint') and 'Traceback' not in err


def test_amp_flag_sets_the_config_and_is_refused_on_the_cpu(trainer, data_root, tmp_path, capsys):
    argv = [CONFIG, '--work-dir', str(tmp_path), '--amp', '--cfg-options', *small_model_and_data(data_root)]
    code, err = run_main(trainer, argv, capsys)
    assert code == 1 and err.startswith('error: mixed precision (amp) needs CUDA') and 'Traceback' not in err


def nan_training_options(data_root):
    # AdamW with lr=1e38 and 4 iterations (the LR warms up from 0 over the epoch): the first update leaves the
    # weights near 1e37, the next one makes them inf. The loss check is removed (as a user may), so only the
    # check before saving stands in the way.
    return [*small_model_and_data(data_root), 'optim_wrapper.optimizer.lr=1e38', 'default_hooks.invalid_loss=None',
            'train_loop.max_epochs=1', 'train_dataloader.batch_size=1']


def test_diverged_weights_are_not_saved(trainer, data_root, tmp_path, capsys):
    # Before: the NaN weights were validated as mIoU 8.99, saved as best_mIoU_epoch_1.pkl, exit 0.
    work_dir = tmp_path / 'work'
    code, err = run_main(trainer, [CONFIG, '--work-dir', str(work_dir), '--seed', '0', '--cfg-options',
                                      *nan_training_options(data_root)], capsys)
    assert code == 1, err
    assert err.startswith('error: the model weights hold NaN or infinite values at iteration 4, before saving '
                          'epoch_1.pkl (')
    assert not glob.glob(str(work_dir / '*.pkl'))


def small_model_config(data_root):
    """The demo config with the small model of ``small_model_and_data``."""
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({key: parse_value(value) for key, value in
                         (option.split('=', 1) for option in small_model_and_data(data_root))
                         if key.startswith('model.')})
    return cfg


def write_checkpoint(data_root, path, poison=False):
    """A checkpoint of the small demo model's initial weights (one tensor NaN when ``poison``)."""
    from dformer_seg.apis import init_model
    model = init_model(small_model_config(data_root), device='cpu')
    state = {name: var.numpy() for name, var in model.state_dict().items()}
    if poison:
        state['decode_head.conv_seg.weight'] = state['decode_head.conv_seg.weight'] * np.nan
    save_checkpoint(str(path), state, meta=dict(CLASSES=None))
    return str(path)


def test_test_tool_refuses_nan_weights_and_a_class_count_mismatch(tester, data_root, tmp_path, capsys):
    checkpoint = write_checkpoint(data_root, tmp_path / 'nan.pkl', poison=True)
    options = ['--work-dir', str(tmp_path / 'work'), '--cfg-options', *small_model_and_data(data_root)]
    code, err = run_main(tester, [CONFIG, checkpoint, *options], capsys)  # before: mIoU 8.99
    assert code == 1 and err.startswith('error: the model weights hold NaN or infinite values before testing '
                                        '(1 tensor(s): decode_head.conv_seg.weight)'), err
    # Before: "predicted class ids must be in [0, 6)" after the whole test set.
    code, err = run_main(tester, [CONFIG, checkpoint, *options, 'model.decode_head.num_classes=5'], capsys)
    assert code == 1 and err.startswith('error: model.decode_head.num_classes is 5, but the train_dataloader data '
                                        'set (DemoRGBDDataset) has 6 classes'), err


def test_inference_api_refuses_nan_scores(data_root, tmp_path):
    from dformer_seg.apis import inference_model, init_model
    from dformer_seg.utils.numerics import NonFiniteError
    checkpoint = write_checkpoint(data_root, tmp_path / 'nan.pkl', poison=True)
    model = init_model(small_model_config(data_root), checkpoint, device='cpu')
    rgb = sorted(glob.glob(os.path.join(data_root, 'RGB', '*')))[0]
    depth = sorted(glob.glob(os.path.join(data_root, 'Depth', '*')))[0]
    with pytest.raises(NonFiniteError, match=rf'NaN or infinite scores for {re.escape(rgb)}'):
        inference_model(model, rgb, depth)  # before: a label map of class 0 everywhere


def test_output_paths_of_the_wrong_kind_fail_before_the_model_runs(tester, tmp_path, capsys):
    existing_file = tmp_path / 'taken'
    existing_file.write_text('')
    missing = str(tmp_path / 'no_config.py')  # never read: the output check comes first
    code, err = run_main(tester, [missing, 'no.pkl', '--out', str(existing_file)], capsys)
    assert code == 1 and err == f'error: --out {existing_file} is an existing file; it must be a folder (new or ' \
                                f'existing)\n'
    code, err = run_main(tester, [missing, 'no.pkl', '--format-only', '--out', str(tmp_path) + '/d.json',
                                     '--show-dir', str(existing_file)], capsys)
    assert code == 1 and '--show-dir' in err

    infer_tool = load_script('tools/infer.py', 'infer_tool_errors')
    code, err = run_main(infer_tool, [missing, 'no.pkl', '--rgb', missing, '--depth', missing, '--out',
                                      str(existing_file)], capsys)
    assert code == 1 and err.startswith(f'error: --out {existing_file}: {existing_file} is an existing file')


@pytest.mark.parametrize('option, message', [
    ('model.decode_head.num_clases=11',
     r"error: head LightHamHead has no argument 'num_clases'; did you mean 'num_classes'\?"),
    ('model.backbone.type=DFormerV3',
     r"error: 'DFormerV3' is not registered in registry backbone\. Did you mean: DFormer, DFormerv2\b.*"),
    ('model.test_cfg.mdoe=slide',
     r"error: segmentor RGBDEncoderDecoder: unknown keys in test_cfg: \['mdoe'\]; use mode, crop_size, stride, aug"),
])
def test_a_bad_component_option_is_one_error_line(trainer, data_root, tmp_path, capsys, option, message):
    # Before: a TypeError with 11 frames, a KeyError and a ValueError traceback.
    argv = [CONFIG, '--work-dir', str(tmp_path / 'work'), '--cfg-options', *small_model_and_data(data_root), option]
    code, err = run_main(trainer, argv, capsys)
    assert code == 1 and re.fullmatch(message + r'\n', err), err


def test_list_options_and_new_keys(trainer, tester, tmp_path, capsys):
    # mmengine's DictAction forms: [a,b] is a list of strings (before: the string '[mIOU]').
    args = tester.parse_args([CONFIG, 'x.pkl', '--cfg-options', 'test_evaluator.iou_metrics=[mIoU,mDice]',
                              'model.test_cfg.crop_size=(64,64)'])
    cfg = cli.load_config(args)
    assert cfg.test_evaluator.iou_metrics == ['mIoU', 'mDice'] and cfg.model.test_cfg.crop_size == (64, 64)
    # A helper variable of the user's own config is fine (one warning), a near-miss of a known key is an error.
    config = tmp_path / 'mine.py'
    config.write_text(f"_base_ = {CONFIG!r}\nclasses = ['a', 'b']\n")
    cli.load_config(tester.parse_args([str(config), 'x.pkl']))
    code, err = run_main(trainer, [str(config), '--cfg-options', 'trian_dataloader.batch_size=2'], capsys)
    assert code == 1 and "did you mean 'train_dataloader'" in err


@pytest.mark.skipif(runtime.cuda_status()[0], reason='checks the refusal on a machine without CUDA')
def test_device_cuda_without_cuda_is_one_error_line(tmp_path):
    result = subprocess.run([sys.executable, 'tools/test.py', CONFIG, 'x.pkl', '--device', 'cuda',
                             '--work-dir', str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and re.fullmatch(r'error: --device cuda was requested but CUDA is not usable: .*\n',
                                                   result.stderr.splitlines(keepends=True)[-1]), result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.skipif(shutil.which('mpirun') is None, reason='OpenMPI (mpirun) is not installed')
def test_dist_test_script_gives_the_single_process_metrics(data_root, tmp_path):
    checkpoint = write_checkpoint(data_root, tmp_path / 'init.pkl')
    options = ['--cfg-options', *small_model_and_data(data_root), 'test_dataloader.batch_size=1']
    env = dict(os.environ, OMP_NUM_THREADS='1')

    def metrics(command, work_dir):
        result = subprocess.run(command + ['--work-dir', str(tmp_path / work_dir), *options], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=1500)
        log = result.stdout + result.stderr
        assert result.returncode == 0, log[-4000:]
        return re.search(r'Test  aAcc: .*', log).group(0), log

    single, _ = metrics([sys.executable, 'tools/test.py', CONFIG, checkpoint], 'one')
    sharded, log = metrics(['bash', 'tools/dist_test.sh', CONFIG, checkpoint, '2'], 'two')
    # 3 test images split 2 + 1 (+ 1 padding repeat, not counted): the same metrics as one process.
    assert sharded == single and 'per-class results (3 images)' in log
    assert len(glob.glob(str(tmp_path / 'two' / '*.log'))) == 1  # rank 0 writes the log
