import jittor as jt
import numpy as np
import pytest
from head_test_utils import make_features

from dformer_seg.models.decode_heads.decode_head import BaseDecodeHead
from dformer_seg.models.decode_heads.head_layers import AdaptiveAvgPool2d
from dformer_seg.models.utils import ConvModule, resize


class PlainHead(BaseDecodeHead):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = ConvModule(self.in_channels if isinstance(self.in_channels, int) else self.in_channels[0],
                                self.channels, 1, norm_cfg=dict(type='BN'))
        self.init_weights()

    def execute(self, inputs):
        x = self._transform_inputs(inputs)
        return self.cls_seg(self.block(x))


def numpy_ce(logits, label, ignore_index=255):
    shifted = logits - logits.max(1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    valid = label != ignore_index
    nll = -np.take_along_axis(log_prob, np.where(valid, label, 0)[:, None], 1)[:, 0]
    return nll[valid].mean()


def test_input_transforms():
    feats = make_features()
    single = PlainHead(in_channels=24, channels=4, num_classes=3, in_index=2)
    assert single._transform_inputs(feats) is feats[2]
    multi = PlainHead(in_channels=[16, 32], channels=4, num_classes=3, in_index=[1, 3],
                      input_transform='multiple_select')
    assert multi._transform_inputs(feats) == [feats[1], feats[3]]
    concat = PlainHead(in_channels=[16, 32], channels=4, num_classes=3, in_index=[1, 3],
                       input_transform='resize_concat')
    assert concat.in_channels == 48
    merged = concat._transform_inputs(feats).numpy()
    assert merged.shape == (2, 48, 10, 13)
    np.testing.assert_array_equal(merged[:, :16], feats[1].numpy())
    up = resize(feats[3], size=(10, 13), mode='bilinear', align_corners=False).numpy()
    np.testing.assert_array_equal(merged[:, 16:], up)
    assert tuple(concat(feats).shape) == (2, 3, 10, 13)


def test_loss_resizes_logits_and_sums_losses_with_the_same_name():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    label = rng.integers(0, 3, size=(2, 4, 5)).astype(np.int32)
    label[0, 0] = 7  # the head's ignore_index
    head = PlainHead(in_channels=8, channels=4, num_classes=3, ignore_index=7, loss_decode=[
        dict(type='CrossEntropyLoss', loss_name='loss_ce'),
        dict(type='CrossEntropyLoss', loss_weight=0.5, loss_name='loss_ce'),
        dict(type='CrossEntropyLoss', use_sigmoid=True, loss_name='loss_bce')])
    losses = head.loss(jt.array(logits), jt.array(label[:, None]))  # (N, 1, H, W) labels are accepted
    assert set(losses) == {'loss_ce', 'loss_bce', 'acc_seg'}
    np.testing.assert_allclose(losses['loss_ce'].numpy(), 1.5 * numpy_ce(logits, label, 7), rtol=1e-5)
    valid = label != 7
    np.testing.assert_allclose(losses['acc_seg'].numpy(),
                               100.0 * (logits.argmax(1) == label)[valid].mean(), rtol=1e-5)

    small = jt.array(logits[:, :, :2, :3])
    resized = resize(small, size=(4, 5), mode='bilinear', align_corners=False).numpy()
    value = head.loss(small, jt.array(label))['loss_ce'].numpy()
    np.testing.assert_allclose(value, 1.5 * numpy_ce(resized, label, 7), rtol=1e-5)


def test_dropout_only_in_training_and_init():
    head = PlainHead(in_channels=8, channels=16, num_classes=3, dropout_ratio=0.5)
    feats = make_features()
    head.eval()
    np.testing.assert_array_equal(head([feats[0]]).numpy(), head([feats[0]]).numpy())
    bn = head.block.bn
    np.testing.assert_array_equal(bn.weight.numpy(), 1.0)
    np.testing.assert_array_equal(bn.bias.numpy(), 0.0)
    weight = head.conv_seg.weight.numpy()
    assert 0.5 < weight.std() / np.sqrt(2.0 / 16) < 1.5  # Kaiming normal, fan_in = 16
    head.train()
    a, b = head([feats[0]]).numpy(), head([feats[0]]).numpy()
    assert np.abs(a - b).max() > 0


def test_constructor_errors():
    with pytest.raises(TypeError, match='must be ints'):
        PlainHead(in_channels=[8], channels=4, num_classes=3)
    with pytest.raises(ValueError, match='same length'):
        PlainHead(in_channels=[8, 16], channels=4, num_classes=3, in_index=[0], input_transform='multiple_select')
    with pytest.raises(ValueError, match='input_transform'):
        PlainHead(in_channels=[8], channels=4, num_classes=3, in_index=[0], input_transform='concat')
    with pytest.raises(ValueError, match='num_classes'):
        PlainHead(in_channels=8, channels=4, num_classes=0)
    with pytest.raises(ValueError, match='conv_cfg'):
        PlainHead(in_channels=8, channels=4, num_classes=3, conv_cfg=dict(type='DCN'))
    with pytest.raises(KeyError, match='NoSuchLoss'):
        PlainHead(in_channels=8, channels=4, num_classes=3, loss_decode=dict(type='NoSuchLoss'))
    head = PlainHead(in_channels=8, channels=4, num_classes=3)
    with pytest.raises(ValueError, match='gt_seg'):
        head.loss(jt.rand((2, 3, 4, 4)), jt.zeros((4, 4), dtype='int32'))


def torch_style_adaptive_avg_pool(x, out_h, out_w):
    n, c, h, w = x.shape
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        h0, h1 = (i * h) // out_h, -((-(i + 1) * h) // out_h)
        for j in range(out_w):
            w0, w1 = (j * w) // out_w, -((-(j + 1) * w) // out_w)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize('in_size,out_size', [((5, 7), (3, 3)), ((3, 4), (6, 6)), ((10, 13), (1, 1))])
def test_adaptive_avg_pool_uses_pytorch_bins(in_size, out_size):
    x = np.random.default_rng(1).normal(size=(1, 2) + in_size).astype(np.float32)
    out = AdaptiveAvgPool2d(out_size)(jt.array(x)).numpy()
    np.testing.assert_allclose(out, torch_style_adaptive_avg_pool(x, *out_size), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='output_size'):
        AdaptiveAvgPool2d(0)
