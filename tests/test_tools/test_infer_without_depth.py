"""tools/infer.py without --depth: every RGB image is segmented with the missing-depth value."""
import os

import cv2
import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.utils.checkpoint import save_checkpoint

from script_loading import load_script

CONFIG_TEXT = """
_img_norm = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
                 dict(type='Normalize', **_img_norm), dict(type='PackSegInputs')]
model = dict(
    type='RGBDEncoderDecoder',
    backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                  num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
    decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                     ham_channels=32, num_classes=3, nmf_seed=0, norm_cfg=dict(type='BN', eps=1e-3)),
    test_cfg=dict(mode='whole'))
device = 'cpu'
"""


def test_rgb_only_folder_and_file(tmp_path, capsys):
    tool = load_script('tools/infer.py', 'infer_tool_no_depth')
    config = str(tmp_path / 'mini.py')
    with open(config, 'w') as f:
        f.write(CONFIG_TEXT)
    checkpoint = str(tmp_path / 'mini.pkl')
    save_checkpoint(checkpoint, {k: v.numpy() for k, v in init_model(config, device='cpu').state_dict().items()})
    rgb = tmp_path / 'rgb'
    rgb.mkdir()
    for name in ('a.jpg', 'b.png'):
        cv2.imwrite(str(rgb / name), np.random.default_rng(len(name)).integers(0, 256, (24, 32, 3), dtype=np.uint8))
    assert tool.find_pairs(str(rgb), None)[0] == [('a', str(rgb / 'a.jpg'), None), ('b', str(rgb / 'b.png'), None)]
    assert tool.find_pairs(str(rgb / 'a.jpg'), None) == ([('a', str(rgb / 'a.jpg'), None)], [], [])
    with pytest.raises(tool.InputError, match='--rgb .*nowhere does not exist'):
        tool.find_pairs(str(tmp_path / 'nowhere'), None)

    out = tmp_path / 'out'
    tool.main([config, checkpoint, '--rgb', str(rgb), '--out', str(out)])
    assert 'segmented 2 of 2 pair(s)' in capsys.readouterr().out
    labels = cv2.imread(str(out / 'labels' / 'b.png'), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (24, 32) and labels.max() < 3
    assert sorted(os.listdir(out / 'labels')) == ['a.png', 'b.png']
