"""Train the official PyTorch DFormer code on an RGB-D set in the NYUDepthv2 layout and write its
mIoU and loss at fixed evaluation points as JSON: the reference side of the training comparison
(docs/training.md, "Training parity with the official code").

Needs a checkout of github VCIP-RGBD/DFormer (commit 814799b) and a Python with torch, mmcv-lite,
mmengine, opencv and easydict (README.md in this folder). The official files are used unchanged:

* the model: ``models.builder.EncoderDecoder`` built from ``local_configs/NYUDepthv2/<variant>.py``
  (backbone, LightHamHead with the official 512 channels, the official decoder initialisation, plain
  BatchNorm as ``utils/train.py --no-syncbn``), its loss (``CrossEntropyLoss(reduction='none')``
  averaged over the labelled pixels);
* the optimizer: AdamW over ``utils.init_func.group_weight`` (which leaves every parameter that is not
  the weight or bias of a Linear, Conv or norm layer out of the optimizer);
* the schedule: ``utils.lr_policy.WarmUpPolyLR``, set after each step as in ``utils/train.py``;
* the data: ``utils.dataloader.RGBXDataset`` with ``get_train_loader`` / ``get_val_loader``
  (``TrainPre``: random mirror, random scale, normalisation, random crop padded to the crop size);
* the metric: ``utils.metrics_new.Metrics`` on whole-image forwards (``utils/val_mm.py evaluate``).

What this script does around them: it sets the recipe (crop, batch, lr, epochs, warm-up, scales)
on the official config object, runs ``num_train // batch`` iterations per epoch (the official
``niters_per_epoch`` adds one), evaluates every ``--val-interval`` epochs on the test list, provides
three timm helpers (``timm`` needs a CUDA torchvision) and lets the NMF bases of the decode head be
drawn on the CPU when CUDA is absent (the official code calls ``.cuda()`` there).

    python tools/misc/reference/train_official.py --official ~/dformer-official --variant DFormer-Tiny \
        --data-root data/demo_rgbd --seed 0 --out work_dirs/official_T_seed0.json
"""
import argparse
import collections.abc
import contextlib
import importlib
import json
import math
import os
import random
import sys
import tempfile
import time
import types

import numpy as np

CONFIG_MODULES = {'DFormer-Tiny': 'DFormer_Tiny', 'DFormer-Small': 'DFormer_Small', 'DFormer-Base': 'DFormer_Base',
                  'DFormer-Large': 'DFormer_Large', 'DFormerv2_S': 'DFormerv2_S', 'DFormerv2_B': 'DFormerv2_B',
                  'DFormerv2_L': 'DFormerv2_L'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train the official DFormer code on an NYUDepthv2-layout set')
    p.add_argument('--official', default=os.environ.get('DFORMER_OFFICIAL'),
                   help='checkout of github VCIP-RGBD/DFormer (default: $DFORMER_OFFICIAL)')
    p.add_argument('--variant', default='DFormer-Tiny', choices=sorted(CONFIG_MODULES))
    p.add_argument('--data-root', default='data/demo_rgbd')
    p.add_argument('--crop', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'))
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--weight-decay', type=float, default=0.01)
    p.add_argument('--epochs', type=int, default=8)
    p.add_argument('--warmup-epochs', type=int, default=1)
    p.add_argument('--power', type=float, default=0.9)
    p.add_argument('--scales', type=float, nargs='+', default=(0.75, 1.0, 1.25, 1.5))
    p.add_argument('--drop-path', type=float, default=None, help="default: the official config's")
    p.add_argument('--val-interval', type=int, default=1, help='evaluate after every N epochs and the last')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--out', required=True, help='JSON file to write')
    return p.parse_args(argv)


def install_timm_helpers():
    """The three timm helpers the official models import, with timm's semantics."""
    import torch
    from torch import nn

    def drop_path(x, drop_prob=0.0, training=False, scale_by_keep=True):
        if drop_prob == 0.0 or not training:
            return x
        keep = 1.0 - drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        if keep > 0.0 and scale_by_keep:
            mask.div_(keep)
        return x * mask

    class DropPath(nn.Module):
        def __init__(self, drop_prob=0.0, scale_by_keep=True):
            super().__init__()
            self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

        def forward(self, x):
            return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)

    def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
        return nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)

    def to_2tuple(x):
        return tuple(x) if isinstance(x, collections.abc.Iterable) and not isinstance(x, str) else (x, x)

    layers = types.ModuleType('timm.models.layers')
    layers.DropPath, layers.drop_path, layers.trunc_normal_, layers.to_2tuple = \
        DropPath, drop_path, trunc_normal_, to_2tuple
    models = types.ModuleType('timm.models')
    models.layers = layers
    timm = types.ModuleType('timm')
    timm.models = models
    sys.modules.update({'timm': timm, 'timm.models': models, 'timm.models.layers': layers})
    del torch


def nmf_bases_on_cpu():
    """Let NMF2D draw its bases on the CPU when CUDA is absent (the official forward asks for CUDA)."""
    import torch
    from models.decoders import ham_head

    build = ham_head.NMF2D._build_bases

    def _build_bases(self, B, S, D, R, cuda=False):
        return build(self, B, S, D, R, cuda=bool(cuda) and torch.cuda.is_available())

    ham_head.NMF2D._build_bases = _build_bases


def load_official_config(variant):
    """Import local_configs.NYUDepthv2.<variant>; it creates checkpoint folders in the cwd on import."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, contextlib.redirect_stdout(sys.stderr):
        os.chdir(scratch)
        try:
            config = importlib.import_module(f'local_configs.NYUDepthv2.{CONFIG_MODULES[variant]}').C
        finally:
            os.chdir(cwd)
    return config


def set_recipe(config, args):
    root = os.path.abspath(args.data_root)
    with open(os.path.join(root, 'meta.json')) as f:
        meta = json.load(f)
    num_train = sum(1 for line in open(os.path.join(root, 'train.txt')) if line.strip())
    config.update(
        dataset_name='NYUDepthv2', rgb_root_folder=os.path.join(root, 'RGB'), rgb_format='.jpg',
        gt_root_folder=os.path.join(root, 'Label'), gt_format='.png', gt_transform=True,
        x_root_folder=os.path.join(root, 'Depth'), x_format='.png', x_is_single_channel=True,
        train_source=os.path.join(root, 'train.txt'), eval_source=os.path.join(root, 'test.txt'),
        num_train_imgs=num_train, class_names=list(meta['classes']), num_classes=len(meta['classes']),
        image_height=args.crop[0], image_width=args.crop[1], batch_size=args.batch,
        niters_per_epoch=num_train // args.batch, nepochs=args.epochs, lr=args.lr,
        weight_decay=args.weight_decay, lr_power=args.power, warm_up_epoch=args.warmup_epochs,
        train_scale_array=list(args.scales), num_workers=0, pretrained_model=None, pad=False, seed=args.seed)
    if args.drop_path is not None:
        config.drop_path_rate = args.drop_path
    return config


def set_seed(seed):
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def evaluate(model, val_loader, config):
    """Whole-image forward of every test sample, as utils/val_mm.py evaluate (sliding=False)."""
    import torch
    from utils.metrics_new import Metrics

    model.eval()
    metrics = Metrics(config.num_classes, config.background, 'cpu')
    with torch.no_grad():
        for batch in val_loader:
            metrics.update(model(batch['data'], batch['modal_x']).softmax(dim=1), batch['label'])
    ious, miou = metrics.compute_iou()
    model.train()
    return miou, ious


def main(argv=None):
    args = parse_args(argv)
    if not args.official or not os.path.isdir(os.path.join(args.official, 'models')):
        sys.exit('error: --official must name a checkout of github VCIP-RGBD/DFormer (a folder with models/)')
    sys.path.insert(0, os.path.abspath(args.official))
    install_timm_helpers()
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)

    config = set_recipe(load_official_config(args.variant), args)
    set_seed(config.seed)
    with contextlib.redirect_stdout(sys.stderr):  # the official code prints while building
        from models.builder import EncoderDecoder
        from utils.dataloader.dataloader import get_train_loader, get_val_loader
        from utils.dataloader.RGBXDataset import RGBXDataset
        from utils.init_func import group_weight
        from utils.lr_policy import WarmUpPolyLR

        nmf_bases_on_cpu()
        engine = types.SimpleNamespace(distributed=False, local_rank=0, world_size=1)
        train_loader, _ = get_train_loader(engine, RGBXDataset, config)
        val_loader, _ = get_val_loader(engine, RGBXDataset, config)
        criterion = nn.CrossEntropyLoss(reduction='none', ignore_index=config.background)
        model = EncoderDecoder(cfg=config, criterion=criterion, norm_layer=nn.BatchNorm2d, syncbn=False)
        params = group_weight([], model, nn.BatchNorm2d, config.lr)
    n_optimized = sum(len(group['params']) for group in params)
    optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.9, 0.999), weight_decay=config.weight_decay)
    total = config.nepochs * config.niters_per_epoch
    lr_policy = WarmUpPolyLR(config.lr, config.lr_power, total, config.niters_per_epoch * config.warm_up_epoch)

    model.train()
    losses, evals, start = [], [], time.time()
    optimizer.zero_grad()
    for epoch in range(1, config.nepochs + 1):
        batches = iter(train_loader)
        for idx in range(config.niters_per_epoch):
            batch = next(batches)
            loss = model(batch['data'], batch['modal_x'], batch['label'])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            lr = lr_policy.get_lr((epoch - 1) * config.niters_per_epoch + idx)
            for group in optimizer.param_groups:
                group['lr'] = lr
            losses.append(float(loss.item()))
            if not math.isfinite(losses[-1]):
                sys.exit(f'error: loss became {losses[-1]} at iteration {len(losses)}')
        if epoch % args.val_interval == 0 or epoch == config.nepochs:
            miou, ious = evaluate(model, val_loader, config)
            evals.append(dict(epoch=epoch, iter=len(losses), mIoU=miou, IoU=ious))
            print(f'epoch {epoch} iter {len(losses)} loss {np.mean(losses[-config.niters_per_epoch:]):.4f} '
                  f'mIoU {miou:.2f} ({time.time() - start:.0f} s)', file=sys.stderr, flush=True)

    record = dict(
        framework='official', variant=args.variant, seed=args.seed, torch=torch.__version__,
        recipe=dict(crop=list(args.crop), batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                    epochs=args.epochs, iters_per_epoch=config.niters_per_epoch, warmup_epochs=args.warmup_epochs,
                    power=args.power, scales=list(args.scales), drop_path=config.drop_path_rate,
                    decoder_channels=config.decoder_embed_dim, data_root=args.data_root, threads=args.threads),
        optimized_tensors=n_optimized, total_tensors=len(list(model.parameters())),
        seconds=round(time.time() - start, 1), losses=[round(v, 5) for v in losses], evals=evals)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(record, f)


if __name__ == '__main__':
    main()
