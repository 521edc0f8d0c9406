"""Build a segmentor from a config and load its trained weights; segment RGB-D images with it."""
import copy
import logging
import os
from dataclasses import dataclass
from typing import Optional

import jittor as jt
import numpy as np

from .. import datasets as _datasets  # noqa: F401  (register their classes)
from ..config import Config, ConfigError, check_top_level_keys
from ..datasets.collate import collate_samples
from ..datasets.errors import DataError
from ..datasets.io import READ_UNCHANGED, read_depth_file
from ..datasets.metainfo import dataset_meta, stored_dataset_meta
from ..datasets.pipelines import Compose
from ..ops.precision import (
    PrecisionError,
    check_precision,
    convert_model_precision,
    inference_precision,
    model_precision,
)
from ..registry import SEGMENTORS
from ..runtime import setup
from ..utils.checkpoint import load_state_dict, read_checkpoint
from ..utils.numerics import check_finite_scores

logger = logging.getLogger('dformer_seg')


def init_model(config, checkpoint=None, device=None, strict=True, precision='fp32'):
    """Build the segmentor of ``config`` in eval mode and load ``checkpoint``.

    Args:
        config: a config file path or a :class:`Config`.
        checkpoint: official PyTorch ``.pth`` or native ``.pkl`` weights of the whole
            segmentor; None keeps the initial weights. An ``.onnx`` file exported by
            ``tools/deployment/export_onnx.py`` gives a :class:`dformer_seg.deploy.OnnxSegmentor`
            (ONNX Runtime; needs ``requirements/deploy.txt``) that works with :func:`inference_model`.
        device: 'auto' | 'cpu' | 'cuda'; None keeps the device that :func:`dformer_seg.runtime.setup`
            chose (``$DFORMER_SEG_DEVICE``, else auto, unless a tool or an earlier call chose one).
        strict: refuse a checkpoint whose keys or shapes differ from the model
            (the error lists the offending keys).
        precision: 'fp32' | 'bf16': the precision of the heavy ops in :func:`inference_model` (bf16 needs a
            CPU with AVX512-BF16 or AMX-BF16; see docs/precision.md). A CPU without them, or CUDA, raises
            :class:`dformer_seg.ops.precision.PrecisionError`.

    Returns the model with ``model.cfg`` (the config) and ``model.dataset_meta``
    (``classes`` / ``palette`` from the checkpoint meta or its ``dataset_meta``, else from the config's
    data set, see :func:`dformer_seg.datasets.metainfo.dataset_meta`; else None).
    A config file is checked as the tools check it (:func:`dformer_seg.config.check_top_level_keys`).
    """
    if isinstance(config, (str, os.PathLike)):
        config = Config.fromfile(config)
        check_top_level_keys(config)
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}')
    if 'model' not in config:
        raise KeyError(f'config {config.filename} has no "model" entry')
    check_precision(precision)
    if checkpoint is not None and os.fspath(checkpoint).endswith('.onnx'):
        if precision != 'fp32':
            raise PrecisionError(f'precision={precision!r} applies to the Jittor model, not to an .onnx file')
        # An exported model runs in ONNX Runtime; its pre- and post-processing stay the Jittor code.
        from ..deploy.onnx_session import OnnxSegmentor
        return OnnxSegmentor(os.fspath(checkpoint), config)
    setup(device)

    model_cfg = copy.deepcopy(config.to_dict()['model'])
    # Inference never starts from ImageNet-pretrained or init_cfg files: only ``checkpoint`` counts.
    model_cfg['pretrained'] = None
    model_cfg.pop('init_cfg', None)
    model = SEGMENTORS.build(model_cfg)

    meta = None
    if checkpoint is not None:
        loaded = read_checkpoint(checkpoint)
        load_state_dict(model, loaded['state_dict'], strict=strict)
        meta = stored_dataset_meta(loaded.get('meta') or {})
        logger.info(f'loaded checkpoint {checkpoint}')
    model.dataset_meta = meta or dataset_meta(config) or None
    model.cfg = config
    model.eval()
    # Jittor initialises parameters lazily; run that now so the first forward is only a forward.
    jt.sync_all()
    if precision != 'fp32':
        if jt.flags.use_cuda:
            raise PrecisionError(f'precision={precision!r} runs on the CPU only; use --device cpu or fp32')
        convert_model_precision(model, precision)
    return model


# ---------------------------------------------------------------------- inference
# Transforms that read labels: inference has none.
LABEL_TRANSFORMS = ('LoadAnnotations',)


@dataclass
class SegResult:
    """The segmentation of one RGB-D pair.

    ``label_map``: (H, W) int64 class ids at the image's original size.
    ``scores``: (C, H, W) float32 class probabilities at that size (None unless asked for).
    ``img_path`` / ``depth_path``: the input files (None for arrays).
    """
    label_map: np.ndarray
    scores: Optional[np.ndarray] = None
    img_path: Optional[str] = None
    depth_path: Optional[str] = None


def _dataset_pipeline(plain_cfg, loader_key):
    loader = plain_cfg.get(loader_key)
    dataset = loader.get('dataset') if isinstance(loader, dict) else None
    return dataset.get('pipeline') if isinstance(dataset, dict) else None


def inference_pipeline_config(cfg):
    """The transform list of the config's test data: ``test_dataloader.dataset.pipeline``, else
    ``test_pipeline``, else ``val_dataloader.dataset.pipeline``; label loading is left out."""
    plain = cfg.to_dict()
    candidates = (_dataset_pipeline(plain, 'test_dataloader'), plain.get('test_pipeline'),
                  _dataset_pipeline(plain, 'val_dataloader'))
    pipeline = next((p for p in candidates if p), None)
    if pipeline is None:
        raise KeyError(f'config {cfg.filename} has no test pipeline (test_dataloader.dataset.pipeline, '
                       f'test_pipeline or val_dataloader.dataset.pipeline)')
    return [dict(t) for t in pipeline if not (isinstance(t, dict) and t.get('type') in LABEL_TRANSFORMS)]


def depth_channels(cfg):
    """The depth channel count of the config's test pipeline (``LoadDepthFromFile.channels``, default 3)."""
    for transform in inference_pipeline_config(cfg):
        if transform.get('type') == 'LoadDepthFromFile':
            return int(transform.get('channels', 3))
    raise ConfigError(f'the test pipeline of {cfg.filename} has no LoadDepthFromFile, so the number of depth '
                      'channels the model takes is unknown')


def enable_tta(model, tta_cfg=None):
    """Switch ``model`` to multi-scale (+ flip) test-time augmentation: ``tta_cfg``
    (``dict(scales=[...], flip=True, size_divisor=None)``), by default the config's ``tta_cfg``."""
    if tta_cfg is None:
        cfg = getattr(model, 'cfg', None)
        tta_cfg = cfg.get('tta_cfg') if cfg is not None else None
        if not tta_cfg:
            raise KeyError('no tta_cfg: pass one, or set tta_cfg = dict(scales=[0.75, 1.0, 1.25], flip=True) '
                           'in the config')
    tta_cfg = tta_cfg.to_dict() if hasattr(tta_cfg, 'to_dict') else dict(tta_cfg)
    model.set_test_cfg(dict(model.test_cfg, aug=tta_cfg))
    return model


def _as_list(value, what):
    """``(items, given_as_list)``; every item is a path, an array or None (reported by the caller)."""
    items, given_as_list = (list(value), True) if isinstance(value, (list, tuple)) else ([value], False)
    for item in items:
        if not (item is None or isinstance(item, (str, os.PathLike, np.ndarray))):
            raise TypeError(f'{what} must be a file path, a numpy array or a list of them, got '
                            f'{type(item).__name__}')
    return items, given_as_list


# Measured on the demo set (docs/data.md, "Modality dropout"); quoted when a model runs without depth.
MISSING_DEPTH_EFFECT = ('on the demo set, mIoU fell from 50.8 to 23.5 for a model trained with depth only, and '
                        'from 47.0 to 43.7 for one trained with ModalityDropout(prob=0.3)')
_missing_depth_warned = []


def _warn_missing_depth_once(pipeline):
    if _missing_depth_warned:
        return
    _missing_depth_warned.append(True)
    loader = pipeline.find('LoadDepthFromFile')
    value = f' ({loader.missing_value:g} in 0..255 units)' if loader is not None else ''
    logger.warning(f'inference without depth: every depth pixel gets the missing-depth value{value} of the '
                   f'config\'s LoadDepthFromFile; expect lower accuracy ({MISSING_DEPTH_EFFECT}; see docs/data.md)')


def _unchanged(item, what):
    """The input as stored (a file decoded with its own channel count and bit depth)."""
    if isinstance(item, np.ndarray):
        return item
    return read_depth_file(os.fspath(item), READ_UNCHANGED, what)


def _is_colour(image):
    """Three or more channels that are not copies of one (a grayscale map saved as colour is not colour)."""
    if image.ndim != 3 or image.shape[2] < 3:
        return False
    return not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def _name(item, what):
    return f'{what} {os.fspath(item)}' if not isinstance(item, np.ndarray) else f'{what} array {item.shape}'


def _check_not_swapped(rgb, depth, depth_loader):
    """Refuse a colour image given as single-channel depth, naming a swap when the rgb input is no colour image
    (a depth map read as RGB has one channel, or three identical ones)."""
    if depth is None or depth_loader is None or depth_loader.color_type != 'grayscale':
        return
    if not _is_colour(_unchanged(depth, 'depth')):
        return
    if not _is_colour(_unchanged(rgb, 'image')):
        raise DataError(f'rgb and depth look swapped: {_name(depth, "depth")} is a colour image and '
                        f'{_name(rgb, "rgb")} has a single channel (or three identical ones); pass the colour '
                        f'image as rgb and the depth map as depth')
    raise DataError(f'{_name(depth, "depth")} is a colour image (3 different channels), but the test pipeline reads '
                    f'depth as one channel: pass the depth map (a 3-channel modality such as HHA needs '
                    f'LoadDepthFromFile(color_type="color"))')


def _start_results(index, rgb, depth, color_order):
    results = dict(img_path=None, depth_path=None, seg_map_path=None, sample_idx=index, img_fields=[],
                   seg_fields=[])
    if isinstance(rgb, np.ndarray):
        results['img'] = rgb
        if color_order is not None:
            results['img_color_order'] = color_order
    else:
        results['img_path'] = os.fspath(rgb)
    if isinstance(depth, np.ndarray):
        results['depth'] = depth
    elif depth is not None:
        results['depth_path'] = os.fspath(depth)
    return results


def inference_model(model, rgb, depth=None, return_scores=False, color_order=None):
    """Segment RGB-D images with the test pipeline and inference mode of ``model.cfg``.

    Args:
        model: a segmentor from :func:`init_model` (it needs ``model.cfg``); it is put in eval mode.
        rgb: an image file path, an HxWx3 uint8 array, or a list of them.
        depth: the matching depth (same kinds, same count): 8-bit, or 16-bit scaled by the
            config's ``LoadDepthFromFile.raw_depth_range``; an array is HxW uint8/uint16.
            None (or a None item): no depth; the model gets the config's missing-depth value
            (``LoadDepthFromFile.missing_value``) and a warning, once, that accuracy drops.
        return_scores: also return the class probabilities.
        color_order: channel order of RGB arrays ('bgr' | 'rgb'); None: the order the config's
            ``LoadImageFromFile`` uses (its ``color_order``). Files are always decoded correctly.

    The inference mode is ``model.test_cfg``: whole image, sliding window, or
    test-time augmentation (see :func:`enable_tta`). Images are run one at a time.

    Returns a :class:`SegResult` for a single pair, a list of them for lists.
    """
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise AttributeError('the model has no .cfg: build it with dformer_seg.apis.init_model(config, checkpoint)')
    if color_order not in (None, 'bgr', 'rgb'):
        raise ValueError(f"color_order must be None, 'bgr' or 'rgb', got {color_order!r}")
    rgb_list, batched = _as_list(rgb, 'rgb')
    depth_list, _ = _as_list(depth, 'depth') if depth is not None else ([None] * len(rgb_list), batched)
    if any(r is None for r in rgb_list):
        raise ValueError('inference_model needs an RGB image for every depth map (got None)')
    if len(rgb_list) != len(depth_list):
        raise ValueError(f'{len(rgb_list)} RGB images but {len(depth_list)} depth maps')

    pipeline = Compose(inference_pipeline_config(cfg))
    if any(d is None for d in depth_list):
        _warn_missing_depth_once(pipeline)
    model.eval()
    results = []
    depth_loader = pipeline.find('LoadDepthFromFile')
    for index, (one_rgb, one_depth) in enumerate(zip(rgb_list, depth_list)):
        try:
            _check_not_swapped(one_rgb, one_depth, depth_loader)
            packed = pipeline(_start_results(index, one_rgb, one_depth, color_order))
        except DataError as exc:
            where = f' (list item {index}, counting from 0)' if batched else ''
            raise DataError(f'{exc}{where}') from None
        missing = [key for key in ('img', 'depth') if key not in packed]
        if missing:
            raise KeyError(f'the test pipeline of {cfg.filename} produced no {missing}: it must load the image '
                           f'and the depth and end with PackSegInputs')
        batch = collate_samples([packed])
        with inference_precision(model_precision(model)):
            scores = model.inference(jt.array(batch['img']), jt.array(batch['depth']), batch['img_metas'])[0]
        meta = batch['img_metas'][0]
        check_finite_scores([scores], meta.get('img_path') or f'input {index}')
        results.append(SegResult(
            label_map=np.asarray(scores.argmax(dim=0)[0].numpy(), dtype=np.int64),
            scores=scores.numpy().astype(np.float32) if return_scores else None,
            img_path=meta.get('img_path'), depth_path=meta.get('depth_path')))
    return results if batched else results[0]
