"""Train both sides of the training comparison for several seeds and collect mIoU and loss per
evaluation point of every run in one JSON file (docs/training.md, "Training parity with the official
code").

The recipe is read from our config (data root, crop, scales, batch, lr, weight decay, epochs, warm-up,
poly power, drop path, validation interval) and handed to tools/misc/reference/train_official.py, so both
sides train the same recipe. Arms:

* ``official``: the official PyTorch code (needs --official and --official-python, see README.md);
* ``ours``: tools/train.py with CONFIG (every parameter trained);
* ``ours-official-groups``: tools/train.py with CONFIG's ``*_official_groups.py`` sibling (the
  parameters that the official optimizer groups leave out are not updated).

Runs are sequential; a run whose JSON exists is not repeated, so an interrupted comparison continues
(``--collect`` gathers the finished runs without training any).

    python tools/misc/reference/run_comparison.py configs/demo/dformer_tiny_demo_compare.py \
        --variant DFormer-Tiny --seeds 0 1 2 3 4 --official ~/dformer-official \
        --official-python ~/dformer-official-venv/bin/python --out docs/data/training_comparison/demo_tiny.json
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)

from dformer_seg.config import Config  # noqa: E402

ARMS = ('official', 'ours', 'ours-official-groups')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train ours and the official code for several seeds; write JSON')
    p.add_argument('config', help='our comparison config, e.g. configs/demo/dformer_tiny_demo_compare.py')
    p.add_argument('--variant', required=True, help='official backbone name: DFormer-Tiny, DFormerv2_S, ...')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    p.add_argument('--arms', nargs='+', choices=ARMS, default=list(ARMS))
    p.add_argument('--official', default=os.environ.get('DFORMER_OFFICIAL'),
                   help='checkout of github VCIP-RGBD/DFormer (default: $DFORMER_OFFICIAL)')
    p.add_argument('--official-python', default=os.environ.get('DFORMER_OFFICIAL_PYTHON'),
                   help='Python of the torch environment (default: $DFORMER_OFFICIAL_PYTHON)')
    p.add_argument('--threads', type=int, default=1, help='threads of each run (OMP_NUM_THREADS, torch)')
    p.add_argument('--work-dir', default='work_dirs/compare', help='runs go to WORK_DIR/<config name>/<arm>/')
    p.add_argument('--out', required=True, help='JSON file with every run')
    p.add_argument('--collect', action='store_true', help='only collect the runs that exist; train nothing')
    return p.parse_args(argv)


def _find(pipeline, kind):
    steps = [step for step in pipeline if step['type'] == kind]
    if len(steps) != 1:
        raise SystemExit(f'error: the training pipeline needs exactly one {kind} step for the comparison')
    return steps[0]


def recipe_of(config_path):
    """The recipe of our config, as the official driver's options."""
    cfg = Config.fromfile(config_path)
    pipeline = cfg.train_dataloader['dataset']['pipeline']
    head = cfg.model['decode_head']
    if head['channels'] != 512 or head['ham_channels'] != 512:
        raise SystemExit('error: the official builder fixes the LightHamHead at 512 channels; '
                         'the comparison config must use channels=ham_channels=512')
    optimizer = cfg.optim_wrapper['optimizer']
    crop = _find(pipeline, 'RandomCrop')['crop_size']
    return dict(
        data_root=cfg.train_dataloader['dataset']['data_root'], crop=list(crop),
        scales=list(_find(pipeline, 'RandomResize')['ratios']), batch=cfg.train_dataloader['batch_size'],
        lr=optimizer['lr'], weight_decay=optimizer['weight_decay'], epochs=cfg.train_loop['max_epochs'],
        warmup_epochs=cfg.param_scheduler['warmup_epochs'], power=cfg.param_scheduler['power'],
        drop_path=cfg.model['backbone']['drop_path_rate'], val_interval=cfg.train_loop['val_interval'])


def official_command(args, recipe, seed, out):
    r = recipe
    return [args.official_python, os.path.join(REPO, 'tools/misc/reference/train_official.py'),
            '--official', args.official, '--variant', args.variant, '--data-root', r['data_root'],
            '--crop', *map(str, r['crop']), '--scales', *map(str, r['scales']), '--batch', str(r['batch']),
            '--lr', str(r['lr']), '--weight-decay', str(r['weight_decay']), '--epochs', str(r['epochs']),
            '--warmup-epochs', str(r['warmup_epochs']), '--power', str(r['power']),
            '--drop-path', str(r['drop_path']), '--val-interval', str(r['val_interval']),
            '--seed', str(seed), '--threads', str(args.threads), '--out', out]


def ours_record(work_dir, arm, variant, seed, seconds):
    """mIoU per validation and the loss of every iteration, from our run's .log.json."""
    logs = sorted(glob.glob(os.path.join(work_dir, '*.log.json')))
    if not logs:
        raise SystemExit(f'error: no .log.json in {work_dir}')
    losses, evals = [], []
    with open(logs[-1]) as f:
        for line in f:
            entry = json.loads(line)
            if entry.get('mode') == 'train':
                losses.append(round(entry['loss'], 5))
            elif entry.get('mode') == 'val':
                evals.append(dict(epoch=entry['epoch'], iter=entry['iter'], mIoU=round(entry['mIoU'], 2)))
    return dict(framework=arm, variant=variant, seed=seed, seconds=round(seconds, 1), losses=losses, evals=evals)


def run_one(args, recipe, arm, seed, run_dir):
    out = os.path.join(run_dir, f'seed{seed}.json')
    if os.path.exists(out):
        return out
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.time()
    with open(os.path.join(run_dir, f'seed{seed}.log'), 'w') as log:
        if arm == 'official':
            if not (args.official and args.official_python):
                raise SystemExit('error: the official arm needs --official and --official-python (README.md)')
            command = official_command(args, recipe, seed, out)
        else:
            config = args.config if arm == 'ours' else args.config.replace('.py', '_official_groups.py')
            work_dir = os.path.join(run_dir, f'seed{seed}')
            command = [sys.executable, os.path.join(REPO, 'tools/train.py'), config, '--seed', str(seed),
                       '--work-dir', work_dir, '--cfg-options', 'allow_existing_work_dir=True']
        print(f'[{time.strftime("%H:%M:%S")}] {arm} seed {seed}: {" ".join(command)}', flush=True)
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
    if arm != 'official':
        record = ours_record(work_dir, arm, args.variant, seed, time.time() - start)
        with open(out, 'w') as f:
            json.dump(record, f)
    return out


def main(argv=None):
    args = parse_args(argv)
    recipe = recipe_of(args.config)
    name = os.path.splitext(os.path.basename(args.config))[0]
    runs = []
    for seed in args.seeds:  # seeds outermost: a stopped comparison has every arm for the first seeds
        for arm in args.arms:
            run_dir = os.path.join(args.work_dir, name, arm)
            os.makedirs(run_dir, exist_ok=True)
            path = os.path.join(run_dir, f'seed{seed}.json')
            if not args.collect:
                path = run_one(args, recipe, arm, seed, run_dir)
            elif not os.path.exists(path):
                continue
            with open(path) as f:
                runs.append(json.load(f))
            result = dict(config=args.config, variant=args.variant, recipe=recipe, runs=runs)
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
