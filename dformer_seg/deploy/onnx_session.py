"""Run an exported ``.onnx`` segmentor in ONNX Runtime behind the segmentor's inference interface.

:class:`OnnxSegmentor` computes the logits with ONNX Runtime and reuses the
post-processing of :class:`RGBDEncoderDecoder` (sliding window, removing the
padding, undoing flips, resizing to the original size, softmax), so
:func:`dformer_seg.apis.inference_model` and ``tools/infer.py`` give the same
label maps and overlays with either backend.
"""
import json

import jittor as jt
import numpy as np

from ..config import Config
from ..datasets.metainfo import dataset_meta, stored_dataset_meta
from ..models.segmentors.encoder_decoder import RGBDEncoderDecoder, _check_test_cfg
from .export import META_CONFIG, META_DATASET, META_OUTPUT, META_SHAPE, ort_session


class OnnxSegmentor:
    """An exported model: ``encode_decode`` runs ONNX Runtime, everything around it is the Jittor code.

    Args:
        path: the ``.onnx`` file (exported with ``--output logits``).
        config: the model's config (path or :class:`Config`); None reads the one stored in the file.
        threads: ONNX Runtime intra-op threads (default: all cores).
    """

    inference = RGBDEncoderDecoder.inference
    predict = RGBDEncoderDecoder.predict
    slide_inference = RGBDEncoderDecoder.slide_inference
    aug_inference = RGBDEncoderDecoder.aug_inference
    _logits = RGBDEncoderDecoder._logits

    def __init__(self, path, config=None, threads=None):
        self.path = str(path)
        self.session = ort_session(self.path, threads=threads)
        metadata = self.session.get_modelmeta().custom_metadata_map
        output = metadata.get(META_OUTPUT, self.session.get_outputs()[0].name)
        if output != 'logits':
            raise ValueError(f'{self.path} outputs {output!r}: inference needs the class scores, export the model '
                             'with --output logits')
        if config is None:
            if META_CONFIG not in metadata:
                raise KeyError(f'{self.path} holds no config (it was not exported by dformer_seg); pass the config')
            config = Config.fromstring(metadata[META_CONFIG], filename='onnx_config.py')
        self.cfg = Config.fromfile(config) if isinstance(config, str) else config
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        if set(inputs) != {'rgb', 'depth'}:
            raise ValueError(f'{self.path} has inputs {sorted(inputs)}; a dformer_seg export has rgb and depth')
        self.input_shape = tuple(int(s) for s in inputs['rgb'][2:])
        self.depth_channels = int(inputs['depth'][1])
        self.num_classes = int(self.session.get_outputs()[0].shape[1])
        model_cfg = self.cfg.to_dict()['model']
        self.align_corners = bool(model_cfg.get('decode_head', {}).get('align_corners', False))
        self.test_cfg = _check_test_cfg(model_cfg.get('test_cfg'))
        stored = json.loads(metadata[META_DATASET]) if META_DATASET in metadata else {}
        self.dataset_meta = stored_dataset_meta(stored) or dataset_meta(self.cfg) or None
        if META_SHAPE in metadata and tuple(int(s) for s in metadata[META_SHAPE].split(',')) != self.input_shape:
            raise ValueError(f'{self.path}: metadata shape {metadata[META_SHAPE]} differs from the input shape '
                             f'{self.input_shape}')

    def eval(self):
        return self

    def set_test_cfg(self, test_cfg):
        self.test_cfg = _check_test_cfg(test_cfg)

    def encode_decode(self, img, depth):
        """Logits (N, classes, H, W) of ONNX Runtime for NCHW ``img`` and ``depth`` (jt.Var or numpy)."""
        img = img.numpy() if hasattr(img, 'numpy') else np.asarray(img)
        depth = depth.numpy() if hasattr(depth, 'numpy') else np.asarray(depth)
        if tuple(img.shape[2:]) != self.input_shape:
            raise ValueError(f'{self.path} was exported for {self.input_shape[0]}x{self.input_shape[1]} inputs, '
                             f'got {img.shape[2]}x{img.shape[3]} (after the test pipeline); export it again with '
                             f'--shape {img.shape[2]} {img.shape[3]}, or use whole-image inference at that size')
        if depth.shape[1] != self.depth_channels:
            raise ValueError(f'{self.path} takes {self.depth_channels}-channel depth, got {depth.shape[1]} channels')
        logits = [self.session.run(['logits'], {'rgb': img[i:i + 1].astype(np.float32),
                                                'depth': depth[i:i + 1].astype(np.float32)})[0]
                  for i in range(img.shape[0])]
        return jt.array(np.concatenate(logits, axis=0))
