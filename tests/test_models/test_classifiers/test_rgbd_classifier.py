import jittor as jt
import numpy as np
import pytest

from dformer_seg.deploy.torch_format import save_torch_checkpoint
from dformer_seg.models.classifiers import RGBDImageClassifier, soft_target_cross_entropy

from parity_fixtures import official_checkpoint_keys

BACKBONES = [
    (dict(type='DFormer', arch='tiny'), 256 // 2 * 3), (dict(type='DFormer', arch='small'), 512 // 2 * 3),
    (dict(type='DFormer', arch='base'), 512 // 2 * 3), (dict(type='DFormer', arch='large'), 576 // 2 * 3),
    (dict(type='DFormerv2', arch='S'), 512), (dict(type='DFormerv2', arch='B'), 512),
    (dict(type='DFormerv2', arch='L'), 640),
]
# The last DFormer block's depth output, which RGBD-Pretrain's classifier has and the segmentation encoder drops.
FINAL_DEPTH_PARTS = ('attn.proj_e.', 'layer_scale_1_e', 'layer_scale_2_e', 'mlp_e2.')


def _batch(size=32, batch=1, labels=(0,)):
    rng = np.random.default_rng(0)
    return dict(img=jt.array(rng.standard_normal((batch, 3, size, size)).astype(np.float32)),
                depth=jt.array(rng.standard_normal((batch, 1, size, size)).astype(np.float32)),
                gt_label=jt.array(np.array(labels, dtype=np.int64)))


@pytest.mark.parametrize('backbone, pred_inputs', BACKBONES, ids=lambda v: v.get('arch') if isinstance(v, dict) else '')
def test_every_backbone_classifies(backbone, pred_inputs):
    model = RGBDImageClassifier(dict(backbone, drop_path_rate=0.0), num_classes=3)
    assert tuple(model.pred.weight.shape) == (3, pred_inputs)
    model.eval()
    logits = model(_batch(), mode='tensor')
    assert tuple(logits.shape) == (1, 3) and np.all(np.isfinite(logits.numpy()))


def rgbd_pretrain_keys():
    """name -> shape of RGBD-Pretrain's DFormer_Tiny classifier (1000 classes), from the fixture of the
    official segmentation model: its backbone, the last block's depth output (shaped as the block before
    it) and ``pred``."""
    seg = official_checkpoint_keys('DFormer-Tiny.tsv', prefix='backbone.')
    keys = dict(seg)
    for name, shape in seg.items():
        if name.startswith('stages.3.0.') and any(part in name for part in FINAL_DEPTH_PARTS):
            keys[name.replace('stages.3.0.', 'stages.3.1.')] = shape
    keys.update({'pred.weight': (1000, 384), 'pred.bias': (1000,)})
    return keys


def test_state_dict_has_the_names_of_rgbd_pretrain():
    model = RGBDImageClassifier(dict(type='DFormer', arch='tiny'), num_classes=1000)
    ours = {(k[len('backbone.'):] if k.startswith('backbone.') else k): tuple(v.shape)
            for k, v in model.state_dict().items()}
    assert ours == rgbd_pretrain_keys()


def test_loads_an_rgbd_pretrain_checkpoint(tmp_path):
    rng = np.random.default_rng(1)
    weights = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in rgbd_pretrain_keys().items()}
    weights['downsample_layers.0.1.num_batches_tracked'] = np.array(7, dtype=np.int64)
    path = str(tmp_path / 'rgbd_pretrain.pth')
    save_torch_checkpoint({'state_dict': weights, 'epoch': 299}, path)
    model = RGBDImageClassifier(dict(type='DFormer', arch='tiny'), num_classes=1000, pretrained=path)
    state = model.state_dict()
    for name in ('pred.weight', 'stages.3.1.mlp_e2.fc2.weight', 'downsample_layers_e.0.0.weight'):
        ours = state[name if name.startswith('pred.') else 'backbone.' + name].numpy()
        np.testing.assert_array_equal(ours, weights[name])


def test_loss_is_label_smoothed_cross_entropy():
    model = RGBDImageClassifier(dict(type='DFormer', arch='tiny', depths=[1, 1, 1, 1]), num_classes=4,
                                label_smoothing=0.1)
    model.eval()  # the loss does not depend on the mode without batch augments
    batch = _batch(batch=2, labels=(1, 3))
    losses = model(batch, mode='loss')
    logits = model(batch, mode='tensor').numpy().astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    targets = np.full((2, 4), 0.1 / 4)
    targets[[0, 1], [1, 3]] += 0.9
    np.testing.assert_allclose(float(losses['loss_cls']), -(targets * log_probs).sum(1).mean(), rtol=1e-5)
    assert set(losses) == {'loss_cls', 'acc_top1'}


def test_soft_target_cross_entropy_of_one_hot_is_cross_entropy():
    logits = jt.array(np.array([[2.0, 0.0, -1.0]], np.float32))
    expected = -np.log(np.exp(2.0) / (np.exp(2.0) + 1 + np.exp(-1.0)))
    np.testing.assert_allclose(float(soft_target_cross_entropy(logits, jt.array([[1.0, 0.0, 0.0]]))), expected,
                               rtol=1e-6)


def test_labels_beyond_num_classes_name_the_setting():
    model = RGBDImageClassifier(dict(type='DFormer', arch='tiny', depths=[1, 1, 1, 1]), num_classes=3)
    with pytest.raises(ValueError, match=r'model.num_classes \(3\)'):
        model(_batch(labels=(5,)), mode='loss')


def test_predict_gives_probabilities_per_image():
    model = RGBDImageClassifier(dict(type='DFormer', arch='tiny', depths=[1, 1, 1, 1]), num_classes=3)
    model.eval()
    probs = model(_batch(batch=2, labels=(0, 1)), mode='predict')
    assert len(probs) == 2 and probs[0].shape == (3,)
    np.testing.assert_allclose([p.sum() for p in probs], 1.0, rtol=1e-5)
