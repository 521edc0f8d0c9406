"""The example classes of docs/extending.md run as documented."""
import os
import re
from types import SimpleNamespace

import cv2
import jittor as jt
import numpy as np
import pytest

from dformer_seg.datasets.pipelines import using_rng
from dformer_seg.engine.optim import build_optim_wrapper
from dformer_seg.registry import BACKBONES, DATASETS, HEADS, HOOKS, OPTIM_WRAPPERS, PIPELINES, SEGMENTORS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(REPO, 'docs', 'extending.md')


@pytest.fixture
def doc_classes(monkeypatch):
    """Execute the doc's class definitions; the registries get back their entries afterwards."""
    for registry in (BACKBONES, HEADS, DATASETS, PIPELINES, HOOKS, OPTIM_WRAPPERS):
        monkeypatch.setattr(registry, '_module_dict', dict(registry._module_dict))
    with open(DOC, encoding='utf-8') as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), flags=re.S)
    namespace = {}
    definitions = [block for block in blocks if 'register_module()' in block]
    assert len(definitions) == 6
    for block in definitions:
        exec(compile(block, DOC, 'exec'), namespace)
    return namespace


def test_backbone_and_head_train_in_a_segmentor(doc_classes):
    model = SEGMENTORS.build(dict(
        type='RGBDEncoderDecoder', backbone=dict(type='TinyRGBDNet', dims=(8, 16, 32, 64)),
        decode_head=dict(type='ConcatHead', in_channels=[16, 32, 64], in_index=[1, 2, 3], channels=8,
                         num_classes=3, norm_cfg=dict(type='BN'))))
    rng = np.random.default_rng(0)
    img = jt.array(rng.normal(size=(2, 3, 64, 64)).astype(np.float32))
    depth = jt.array(rng.normal(size=(2, 1, 64, 64)).astype(np.float32))
    features = model.backbone(img, depth)
    assert [tuple(f.shape) for f in features] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 2, 2)]
    gt_seg = jt.array(rng.integers(0, 3, size=(2, 64, 64)).astype(np.int32))
    losses = model(dict(img=img, depth=depth, gt_seg=gt_seg), mode='loss')
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    assert np.isfinite(losses['decode.loss_ce'].item())
    model.eval()
    assert model(dict(img=img, depth=depth), mode='predict')[0].shape == (64, 64)


def test_data_set_transform_and_hook(doc_classes, tmp_path):
    root = tmp_path / 'office'
    for folder, image in (('color', np.zeros((8, 8, 3), np.uint8)), ('depth', np.zeros((8, 8), np.uint8)),
                          ('labels', np.ones((8, 8), np.uint8))):
        (root / folder).mkdir(parents=True)
        cv2.imwrite(str(root / folder / 'a.png'), image)
    (root / 'train.txt').write_text('a\n')
    dataset = DATASETS.build(dict(type='OfficeDataset', data_root=str(root), pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1), dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')]))
    assert len(dataset) == 1 and dataset.num_classes == 5
    assert dataset[0]['gt_seg'].shape == (8, 8)

    dropout = PIPELINES.build(dict(type='RandomDepthDropout', prob=1.0, max_fraction=0.5))
    depth = np.full((20, 30, 1), 7, np.uint8)
    with using_rng(np.random.default_rng(0)):
        out = dropout(dict(depth=depth))['depth']
    zeros = np.argwhere(out[:, :, 0] == 0)
    assert len(zeros) > 0 and depth.min() == 7  # the input array is not modified
    rows, cols = zeros[:, 0], zeros[:, 1]
    assert len(zeros) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # one rectangle

    warnings = []
    hook = HOOKS.build(dict(type='LossSpikeHook', factor=3.0))
    runner = SimpleNamespace(iter=0, logger=SimpleNamespace(warning=warnings.append))
    for loss in (1.0, 1.1, 0.9, 5.0):
        runner.iter += 1
        hook.after_train_iter(runner, runner.iter - 1, outputs={'loss': loss})
    assert len(warnings) == 1 and warnings[0].startswith('iteration 4: loss 5.000')


def test_optimizer_wrapper_records_the_gradient_norm(doc_classes):
    # loss = w . (3, 4): the gradient (3, 4) has norm 5, clipped to 1 before the SGD step.
    model = jt.nn.Linear(2, 1, bias=False)
    model.weight.update(jt.zeros((1, 2)))
    wrapper = build_optim_wrapper(model, dict(type='GradNormOptimWrapper', optimizer=dict(type='SGD', lr=1.0),
                                              clip_grad=dict(max_norm=1.0)))
    assert wrapper.update_params(model(jt.array([[3.0, 4.0]])).sum())
    assert wrapper.last_grad_norm == pytest.approx(5.0)
    np.testing.assert_allclose(model.weight.numpy()[0], [-0.6, -0.8], rtol=1e-5)
