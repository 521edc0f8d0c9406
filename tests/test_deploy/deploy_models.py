"""Reduced segmentors for the deployment tests (64x64 inputs, a few blocks per backbone)."""
import numpy as np

import dformer_seg.models  # noqa: F401  (registers the models)
from dformer_seg.registry import SEGMENTORS

SHAPE = (64, 64)
NUM_CLASSES = 5
# Stages 1-3 keep DFormer's 7x7 window attention (pooling and upsampling matrices in the graph).
DFORMER = dict(type='DFormer', dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), mlp_ratios=(2, 2, 2, 2),
               num_heads=(1, 2, 4, 8), windows=(0, 7, 7, 7), last_block=None)
# Stages 0-2 use the decomposed (row / column) attention, stage 3 the full one.
DFORMERV2 = dict(type='DFormerv2', embed_dims=[16, 32, 64, 128], depths=[1, 1, 1, 1], num_heads=[2, 2, 4, 8],
                 heads_ranges=[4, 4, 6, 6], layerscales=[False, False, True, True])
CHANNELS = [16, 32, 64, 128]
BN = dict(type='BN', eps=1e-3)

HEADS = {
    'LightHamHead': dict(type='LightHamHead', in_channels=CHANNELS[1:], in_index=[1, 2, 3], channels=16,
                         ham_channels=32, ham_kwargs=dict(MD_R=8), nmf_seed=0, norm_cfg=BN),
    'FCNHead': dict(type='FCNHead', in_channels=CHANNELS[3], channels=16, num_convs=2, dropout_ratio=0.1,
                    norm_cfg=BN),
    'MLPDecoder': dict(type='MLPDecoder', in_channels=CHANNELS, channels=32, norm_cfg=BN),
    'UPerHead': dict(type='UPerHead', in_channels=CHANNELS, channels=16, pool_scales=(1, 2, 3, 6), norm_cfg=BN),
    'DeepLabV3Plus': dict(type='DeepLabV3Plus', in_channels=[CHANNELS[0], CHANNELS[3]], channels=16, c1_channels=8,
                          dilations=(1, 2, 3), norm_cfg=BN),
    'NLHead': dict(type='NLHead', in_channels=CHANNELS[1:], in_index=[1, 2, 3], channels=16, norm_cfg=BN),
}


def build_segmentor(backbone=DFORMER, head='LightHamHead', **head_overrides):
    decode_head = dict(HEADS[head], num_classes=NUM_CLASSES, **head_overrides)
    model = SEGMENTORS.build(dict(type='RGBDEncoderDecoder', backbone=backbone, decode_head=decode_head))
    model.eval()
    return model


def export_and_check(model, path, **kwargs):
    import onnx

    from dformer_seg.deploy import MAX_ABS_ERROR, export_onnx

    report = export_onnx(model, str(path), SHAPE, depth_channels=kwargs.pop('depth_channels', 3), **kwargs)
    onnx.checker.check_model(onnx.load(str(path)))
    assert report.passed(), report.summary()
    assert report.max_abs_error <= MAX_ABS_ERROR and report.agreement >= 0.999
    return report


def check_light_ham_head_export(backbone, tmp_path):
    """Export with 1-channel depth; check the declared inputs/outputs and that two runs agree exactly."""
    from dformer_seg.deploy import ort_session
    from dformer_seg.deploy.export import random_inputs

    model = build_segmentor(backbone)
    path = tmp_path / 'model.onnx'
    export_and_check(model, path, depth_channels=1)
    session = ort_session(str(path))
    assert [(i.name, i.shape) for i in session.get_inputs()] == [('rgb', [1, 3, 64, 64]), ('depth', [1, 1, 64, 64])]
    assert [(o.name, o.shape) for o in session.get_outputs()] == [('logits', [1, NUM_CLASSES, 64, 64])]
    # The NMF bases are constants: two runs of the file agree exactly.
    rgb, depth = random_inputs(SHAPE, 1, seed=3)
    first, second = (session.run(None, dict(rgb=rgb, depth=depth))[0] for _ in range(2))
    np.testing.assert_array_equal(first, second)
