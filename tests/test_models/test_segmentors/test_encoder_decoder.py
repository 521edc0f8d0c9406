"""RGBDEncoderDecoder logic on a tiny per-pixel model (every output pixel depends on its input pixel only).

With such a model, sliding-window inference must reproduce whole-image
inference exactly, whatever the windows, which checks the canvas/count logic.
"""
import logging

import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg.models.segmentors import RGBDEncoderDecoder
from dformer_seg.models.utils import resize
from dformer_seg.registry import BACKBONES, HEADS, SEGMENTORS
from dformer_seg.utils.checkpoint import save_checkpoint

NUM_CLASSES = 5


@BACKBONES.register_module(force=True)
class PixelwiseTestBackbone(nn.Module):
    """Four 'stages' that are all the same 1x1 mix of RGB and depth channel 0."""

    def __init__(self, channels=6):
        super().__init__()
        self.rgb = nn.Conv2d(3, channels, 1)
        self.depth = nn.Conv2d(1, channels, 1)

    def execute(self, img, depth):
        feat = nn.relu(self.rgb(img) + self.depth(depth[:, 0:1]))
        return [feat, feat, feat * 0.5, feat * 2.0]


@HEADS.register_module(force=True)
class PixelwiseTestHead(nn.Module):
    def __init__(self, in_index=3, channels=6, num_classes=NUM_CLASSES, loss_weight=1.0):
        super().__init__()
        self.in_index = in_index
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)

    def execute(self, inputs):
        return self.conv_seg(inputs[self.in_index])

    def loss(self, seg_logits, gt_seg):
        assert tuple(seg_logits.shape[2:]) == tuple(gt_seg.shape[1:])
        log_prob = nn.log_softmax(seg_logits, dim=1)
        one_hot = (jt.index(seg_logits.shape, dim=1) == gt_seg.unsqueeze(1)).float32()
        loss = -(log_prob * one_hot).sum(dim=1).mean() * self.loss_weight
        acc = (seg_logits.argmax(dim=1)[0] == gt_seg).float32().mean() * 100
        return {'loss_ce': loss, 'acc_seg': acc}


def build(test_cfg=None, auxiliary=False, **kwargs):
    model = SEGMENTORS.build(dict(
        type='RGBDEncoderDecoder',
        backbone=dict(type='PixelwiseTestBackbone'),
        decode_head=dict(type='PixelwiseTestHead'),
        auxiliary_head=dict(type='PixelwiseTestHead', in_index=2, loss_weight=0.4) if auxiliary else None,
        test_cfg=test_cfg, **kwargs))
    model.eval()
    return model


def inputs(h=13, w=17, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    img = jt.array(rng.normal(size=(batch, 3, h, w)).astype(np.float32))
    depth = jt.array(rng.normal(size=(batch, 3, h, w)).astype(np.float32))
    return img, depth


def test_loss_keys_and_aux_weight():
    model = build(auxiliary=True)
    model.train()
    img, depth = inputs()
    gt = jt.array(np.random.default_rng(1).integers(0, NUM_CLASSES, (2, 13, 17)).astype(np.int32))
    losses = model(dict(img=img, depth=depth, gt_seg=gt), mode='loss')
    assert sorted(losses) == ['aux.acc_seg', 'aux.loss_ce', 'decode.acc_seg', 'decode.loss_ce']
    # Both heads share the 1x1 design; the aux loss carries its own 0.4 weight.
    aux_alone = model.auxiliary_head.loss(model.auxiliary_head(model.extract_feat(img, depth)), gt)['loss_ce']
    np.testing.assert_allclose(losses['aux.loss_ce'].item(), aux_alone.item(), rtol=1e-6)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    grads = jt.grad(total, model.backbone.rgb.weight)
    assert np.abs(grads.numpy()).sum() > 0


def test_loss_requires_labels_and_known_mode():
    model = build()
    img, depth = inputs()
    with pytest.raises(KeyError, match='gt_seg'):
        model(dict(img=img, depth=depth), mode='loss')
    with pytest.raises(ValueError, match="unknown mode 'train'"):
        model(dict(img=img, depth=depth), mode='train')
    with pytest.raises(KeyError, match="no 'depth'"):
        model(dict(img=img), mode='tensor')


def test_tensor_mode_is_encode_decode_at_input_size():
    model = build()
    img, depth = inputs()
    logits = model(dict(img=img, depth=depth), mode='tensor')
    assert tuple(logits.shape) == (2, NUM_CLASSES, 13, 17)
    np.testing.assert_array_equal(logits.numpy(), model.encode_decode(img, depth).numpy())


@pytest.mark.parametrize('crop, stride', [((13, 17), (8, 8)), ((20, 30), (5, 5)), ((6, 7), (4, 5)), ((5, 17), (3, 9))])
def test_slide_equals_whole_for_a_pixelwise_model(crop, stride):
    model = build()
    img, depth = inputs()
    expected = nn.softmax(model.encode_decode(img, depth), dim=1).numpy()
    model.set_test_cfg(dict(mode='slide', crop_size=crop, stride=stride))
    got = model.inference(img, depth)
    assert len(got) == 2
    for i in range(2):
        assert tuple(got[i].shape) == (NUM_CLASSES, 13, 17)
        np.testing.assert_allclose(got[i].numpy(), expected[i], atol=1e-6)


def test_slide_windows_cover_the_image_evenly():
    """A model that returns a constant logit shows the count map: averaging must give that constant back."""
    model = build(dict(mode='slide', crop_size=(6, 7), stride=(4, 5)))
    calls = []

    def constant_logits(img, depth):
        calls.append(tuple(img.shape[2:]))
        return jt.ones((img.shape[0], NUM_CLASSES, img.shape[2], img.shape[3])) * 3.0

    model.encode_decode = constant_logits
    img, depth = inputs(h=13, w=17, batch=1)
    logits = model.slide_inference(img, depth)
    np.testing.assert_allclose(logits.numpy(), 3.0, rtol=1e-6)
    # h: windows at y = 0, 4, then clamped to 7 -> 3 rows; w: x = 0, 5, 10 -> 3 columns.
    assert calls == [(6, 7)] * 9


def test_slide_rejects_incomplete_cfg():
    with pytest.raises(ValueError, match='needs crop_size'):
        build(dict(mode='slide', stride=(4, 4)))
    with pytest.raises(ValueError, match="mode must be one of"):
        build(dict(mode='sliding'))
    with pytest.raises(ValueError, match=r"unknown keys in test_cfg: \['crop'\]"):
        build(dict(mode='slide', crop=(4, 4), crop_size=(4, 4), stride=(2, 2)))
    with pytest.raises(ValueError, match='positive'):
        build(dict(mode='slide', crop_size=(4, 0), stride=(2, 2)))
    with pytest.raises(ValueError, match='unknown keys in test_cfg.aug'):
        build(dict(mode='whole', aug=dict(scales=[1.0], flips=True)))


def test_tta_identity_scale_with_flip_equals_plain_softmax():
    """A per-pixel model commutes with horizontal flips, so scale 1 + flip averages two equal maps."""
    model = build()
    img, depth = inputs()
    expected = nn.softmax(model.encode_decode(img, depth), dim=1).numpy()
    model.set_test_cfg(dict(mode='whole', aug=dict(scales=[1.0], flip=True)))
    for i, probs in enumerate(model.inference(img, depth)):
        np.testing.assert_allclose(probs.numpy(), expected[i], atol=1e-6)


def test_tta_multi_scale_with_slide_shapes_and_probabilities():
    model = build(dict(mode='slide', crop_size=(8, 8), stride=(6, 6),
                       aug=dict(scales=[0.5, 1.0, 1.5], flip=True, size_divisor=4)))
    img, depth = inputs()
    seen = []
    original = model.encode_decode

    def recording(img, depth):
        seen.append(tuple(img.shape[2:]))
        return original(img, depth)

    model.encode_decode = recording
    probs = model.inference(img, depth)
    assert all(tuple(p.shape) == (NUM_CLASSES, 13, 17) for p in probs)
    np.testing.assert_allclose(np.stack([p.numpy() for p in probs]).sum(axis=1), 1.0, atol=1e-5)
    # Scaled sizes rounded up to multiples of 4: 0.5 -> (8, 8), 1.0 -> (16, 20), 1.5 -> (20, 28).
    assert {s for s in seen} == {(8, 8)}  # every window is a full crop: no scaled image is smaller than 8x8
    preds = model(dict(img=img, depth=depth), mode='predict')
    np.testing.assert_array_equal(preds[0], probs[0].numpy().argmax(axis=0))


def test_predict_undoes_padding_flip_and_resizes_to_ori_shape():
    model = build()
    img, depth = inputs(h=16, w=20, batch=2)
    metas = [
        dict(ori_shape=(24, 36), img_shape=(12, 18), pad_shape=(16, 20), flip=False),
        dict(ori_shape=(16, 20), img_shape=(16, 20), pad_shape=(16, 20), flip=True, flip_direction='horizontal'),
    ]
    preds = model(dict(img=img, depth=depth, img_metas=metas), mode='predict')
    assert [p.shape for p in preds] == [(24, 36), (16, 20)]
    assert all(p.dtype == np.int64 for p in preds)

    logits = model.encode_decode(img, depth)
    first = resize(logits[0:1, :, :12, :18], size=(24, 36), mode='bilinear', align_corners=False)
    np.testing.assert_array_equal(preds[0], first.numpy()[0].argmax(axis=0))
    np.testing.assert_array_equal(preds[1], logits.numpy()[1].argmax(axis=0)[:, ::-1])

    with pytest.raises(ValueError, match='1 img_metas for a batch of 2'):
        model.predict(img, depth, metas[:1])


def test_pretrained_backbone_is_loaded(tmp_path, caplog):
    source = build()
    weights = {'backbone.' + k: v.numpy() * 2 for k, v in source.backbone.state_dict().items()}
    weights['head.fc.weight'] = np.zeros((3, 3), np.float32)  # a classifier the segmentor does not have
    path = str(tmp_path / 'pretrained.pkl')
    save_checkpoint(path, weights)
    with caplog.at_level(logging.INFO, logger='dformer_seg'):
        model = build(pretrained=path)
    np.testing.assert_array_equal(model.backbone.rgb.weight.numpy(), source.backbone.rgb.weight.numpy() * 2)
    assert 'loaded pretrained backbone' in caplog.text and '4/4 tensors' in caplog.text
    assert 'head.fc.weight' in caplog.text


def test_is_registered():
    assert SEGMENTORS.get('RGBDEncoderDecoder') is RGBDEncoderDecoder


def test_real_heads_loss_keys_and_official_aux_weighting():
    """DFormer + LightHamHead + FCNHead auxiliary (official aux design: FCN on stage 3, weight = aux rate)."""
    from dformer_seg.models.losses import cross_entropy
    model = SEGMENTORS.build(dict(
        type='RGBDEncoderDecoder',
        backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
        decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                         ham_channels=32, num_classes=NUM_CLASSES, nmf_seed=0),
        auxiliary_head=dict(type='FCNHead', in_channels=64, in_index=2, num_classes=NUM_CLASSES,
                            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))))
    model.eval()  # deterministic: no dropout / drop path
    img, depth = inputs(h=32, w=40, batch=1)
    gt_np = np.random.default_rng(2).integers(0, NUM_CLASSES, (1, 32, 40)).astype(np.int32)
    gt_np[0, :4] = 255
    gt = jt.array(gt_np)
    losses = model(dict(img=img, depth=depth, gt_seg=gt), mode='loss')
    assert sorted(losses) == ['aux.acc_seg', 'aux.loss_ce', 'decode.acc_seg', 'decode.loss_ce']
    aux_logits = resize(model.auxiliary_head(model.extract_feat(img, depth)), size=(32, 40))
    expected = 0.4 * cross_entropy(aux_logits, gt, ignore_index=255).item()
    np.testing.assert_allclose(losses['aux.loss_ce'].item(), expected, rtol=1e-5)
    assert 0.0 <= losses['decode.acc_seg'].item() <= 100.0


def test_init_cfg_loads_a_whole_segmentor(tmp_path):
    source = build(auxiliary=True)
    weights = {k: v.numpy() + 1.0 for k, v in source.state_dict().items()}
    path = str(tmp_path / 'other_dataset.pkl')
    save_checkpoint(path, weights)
    model = build(init_cfg=dict(type='Pretrained', checkpoint=path))  # no auxiliary head: its keys are skipped
    np.testing.assert_array_equal(model.decode_head.conv_seg.bias.numpy(), weights['decode_head.conv_seg.bias'])
    np.testing.assert_array_equal(model.backbone.depth.weight.numpy(), weights['backbone.depth.weight'])
    with pytest.raises(ValueError, match="init_cfg must be dict\\(type='Pretrained'"):
        build(init_cfg=dict(type='Kaiming'))


def test_whole_image_inference_that_cannot_fit_is_refused(monkeypatch):
    """A backbone that declares its memory per pixel: a whole-image forward larger than the free memory stops
    with the sliding-window hint before it runs (the operating system would kill it); slide mode still runs."""
    from dformer_seg.config import ConfigError
    from dformer_seg.models.segmentors import encoder_decoder

    model = build()
    model.backbone.inference_bytes_per_pixel = 1000
    img, depth = inputs(h=13, w=17, batch=2)
    monkeypatch.setattr(encoder_decoder, 'available_memory_bytes', lambda: 1000 * 2 * 13 * 17 * 2)
    assert len(model.inference(img, depth)) == 2
    monkeypatch.setattr(encoder_decoder, 'available_memory_bytes', lambda: 1000 * 2 * 13 * 17 // 2)
    with pytest.raises(ConfigError, match=r'whole-image inference of 2 x 13x17 needs about .*test_cfg.mode=slide'):
        model.inference(img, depth)
    model.set_test_cfg(dict(mode='slide', crop_size=(8, 8), stride=(8, 8)))
    assert len(model.inference(img, depth)) == 2


def test_the_backbones_declare_their_inference_memory():
    dformer = BACKBONES.build(dict(type='DFormer', arch='tiny'))
    dformerv2 = BACKBONES.build(dict(type='DFormerv2', arch='S'))
    assert dformer.inference_bytes_per_pixel == 18 * 32 and dformerv2.inference_bytes_per_pixel == 13 * 64
    assert 0.9 * 23.5 * 2 ** 30 < dformer.inference_bytes_per_pixel * 10000 * 10000  # the 10000x10000 case
