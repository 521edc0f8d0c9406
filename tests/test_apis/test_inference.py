import numpy as np
import pytest

from dformer_seg.apis import init_model
from dformer_seg.config import Config, ConfigError
from dformer_seg.runtime import DeviceError
from dformer_seg.utils.checkpoint import CheckpointError, save_checkpoint

NUM_CLASSES = 7


def mini_config(num_classes=NUM_CLASSES, **model_overrides):
    """A reduced DFormer + LightHamHead segmentor (fast to build and run)."""
    model = dict(
        type='RGBDEncoderDecoder',
        pretrained='does/not/exist.pth',  # init_model must not read it
        backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7], drop_path_rate=0.1),
        decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                         ham_channels=32, num_classes=num_classes, nmf_seed=0,
                         norm_cfg=dict(type='BN', eps=1e-3, requires_grad=True)),
        test_cfg=dict(mode='whole'))
    model.update(model_overrides)
    return Config(dict(model=model))


def model_weights(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_builds_in_eval_mode_without_checkpoint():
    model = init_model(mini_config(), device='cpu')
    assert not model.is_training()
    assert model.cfg.model.decode_head.num_classes == NUM_CLASSES
    assert model.dataset_meta is None
    assert model.num_classes == NUM_CLASSES


def test_loads_native_checkpoint_and_meta(tmp_path):
    source = init_model(mini_config(), device='cpu')
    weights = {k: v * 0.5 if v.dtype == np.float32 else v for k, v in model_weights(source).items()}
    classes = [f'c{i}' for i in range(NUM_CLASSES)]
    path = str(tmp_path / 'trained.pkl')
    save_checkpoint(path, weights, meta=dict(CLASSES=classes, PALETTE=[[i, i, i] for i in range(NUM_CLASSES)]))

    model = init_model(mini_config(), path, device='cpu')
    loaded = model_weights(model)
    for key, value in weights.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert model.dataset_meta['classes'] == classes
    assert model.dataset_meta['palette'][2] == (2, 2, 2)


def test_config_file_path_and_dataset_meta_from_config(tmp_path):
    path = tmp_path / 'cfg.py'
    cfg = mini_config().to_dict()
    cfg['test_dataloader'] = dict(dataset=dict(type='NYUDepthV2Dataset', data_root='nowhere'))
    path.write_text(f'model = {cfg["model"]!r}\ntest_dataloader = {cfg["test_dataloader"]!r}\n')
    model = init_model(str(path), device='cpu')
    assert len(model.dataset_meta['classes']) == 40 and model.dataset_meta['classes'][0] == 'wall'
    assert len(model.dataset_meta['palette']) == 40
    assert model.cfg.filename == str(path)


def test_mismatched_checkpoint_lists_the_keys(tmp_path):
    weights = model_weights(init_model(mini_config(), device='cpu'))
    weights.pop('decode_head.align.bn.running_var')
    weights['decode_head.extra.weight'] = np.zeros(3, np.float32)
    weights['decode_head.conv_seg.weight'] = np.zeros((NUM_CLASSES + 1, 16, 1, 1), np.float32)
    path = str(tmp_path / 'other.pkl')
    save_checkpoint(path, weights)

    with pytest.raises(CheckpointError) as info:
        init_model(mini_config(), path, device='cpu')
    message = str(info.value)
    assert 'decode_head.align.bn.running_var' in message
    assert 'decode_head.extra.weight' in message
    assert f'decode_head.conv_seg.weight: model ({NUM_CLASSES}, 16, 1, 1), checkpoint ({NUM_CLASSES + 1}, 16, 1, 1)' \
        in message

    model = init_model(mini_config(), path, device='cpu', strict=False)
    np.testing.assert_array_equal(model.backbone.downsample_layers[0][0].weight.numpy(),
                                  weights['backbone.downsample_layers.0.0.weight'])


def test_bad_arguments():
    with pytest.raises(TypeError, match='file path or a Config'):
        init_model(dict(model={}))
    with pytest.raises(FileNotFoundError, match='missing_config.py'):
        init_model('missing_config.py')
    with pytest.raises(KeyError, match='no "model"'):
        init_model(Config(dict(seed=1)))
    with pytest.raises(FileNotFoundError, match='no_weights.pkl'):
        init_model(mini_config(), 'no_weights.pkl', device='cpu')
    with pytest.raises(DeviceError, match="unknown device 'tpu'"):
        init_model(mini_config(), device='tpu')


def test_a_config_file_gets_the_key_check_of_the_tools(tmp_path):
    cfg = mini_config().to_dict()
    typo = tmp_path / 'typo.py'
    typo.write_text(f'model = {cfg["model"]!r}\ntest_dataloder = dict()\n')
    with pytest.raises(ConfigError, match="unknown top-level config key 'test_dataloder'; did you mean 'test_dataloader'"):
        init_model(str(typo), device='cpu')


def test_predicts_label_maps(tmp_path):
    model = init_model(mini_config(), device='cpu')
    rng = np.random.default_rng(0)
    import jittor as jt
    img = jt.array(rng.normal(size=(1, 3, 40, 56)).astype(np.float32))
    depth = jt.array(rng.normal(size=(1, 1, 40, 56)).astype(np.float32))
    meta = dict(ori_shape=(20, 28), img_shape=(40, 56), pad_shape=(40, 56), flip=False)
    pred = model(dict(img=img, depth=depth, img_metas=[meta]), mode='predict')
    assert len(pred) == 1 and pred[0].shape == (20, 28) and pred[0].dtype == np.int64
    assert pred[0].min() >= 0 and pred[0].max() < NUM_CLASSES
    # nmf_seed makes evaluation deterministic: the same input gives the same labels.
    again = model(dict(img=img, depth=depth, img_metas=[meta]), mode='predict')
    np.testing.assert_array_equal(pred[0], again[0])


def test_dataset_meta_is_resolved_in_one_place():
    # datasets.metainfo.dataset_meta serves init_model, the ONNX Runtime model and the Runner alike.
    from types import SimpleNamespace

    from dformer_seg.datasets import NYU_DEPTH_V2_CLASSES, label_palette
    from dformer_seg.datasets.metainfo import dataset_meta, stored_dataset_meta
    nyu = dataset_meta(dict(type='NYUDepthV2Dataset', data_root='nowhere'))  # from the class, nothing built
    assert nyu == dict(classes=list(NYU_DEPTH_V2_CLASSES), palette=label_palette(40))
    own = dict(classes=['a', 'b'], palette=[[1, 2, 3], [4, 5, 6]])
    assert dataset_meta(dict(batch_size=1, dataset=own)) == dict(classes=['a', 'b'], palette=[(1, 2, 3), (4, 5, 6)])
    built = SimpleNamespace(dataset=SimpleNamespace(metainfo=dict(classes=('x',), palette=[(7, 8, 9)])))
    assert dataset_meta(built) == dict(classes=['x'], palette=[(7, 8, 9)])
    cfg = Config(dict(model=dict(), val_dataloader=dict(dataset=own)))  # no test loader: the val loader's
    assert dataset_meta(cfg)['classes'] == ['a', 'b'] and dataset_meta(Config(dict(model=dict()))) == {}
    assert stored_dataset_meta(dict(CLASSES=['a'])) == dict(classes=['a'], palette=label_palette(1))
    assert stored_dataset_meta(dict(dataset_meta=own))['palette'] == [(1, 2, 3), (4, 5, 6)]
    assert stored_dataset_meta({}) == {}
