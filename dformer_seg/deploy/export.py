"""Export a segmentor to ONNX, check it with ``onnx.checker`` and ONNX Runtime, write it atomically."""
import json
import os
import time
from dataclasses import dataclass
from typing import Optional

import jittor as jt
import numpy as np

from ..utils.fileio import atomic_write
from ..version import __version__
from .dependencies import require
from .errors import ExportArgumentError, ExportError, VerificationError
from .tracer import trace_segmentor

DEFAULT_OPSET = 18
MIN_OPSET = 17            # LayerNormalization
SIZE_DIVISOR = 32         # the backbones' output stride
MAX_ABS_ERROR = 1e-4      # ONNX Runtime logits against Jittor logits
MIN_AGREEMENT = 0.999     # fraction of pixels with the same argmax
OUTPUTS = ('logits', 'labels')
# Metadata keys written into the .onnx file (read back by dformer_seg.deploy.onnx_session).
META_CONFIG, META_SHAPE, META_DEPTH_CHANNELS, META_OUTPUT, META_DATASET = (
    'dformer_seg.config', 'dformer_seg.input_shape', 'dformer_seg.depth_channels', 'dformer_seg.output',
    'dformer_seg.dataset_meta')


@dataclass
class Verification:
    """ONNX Runtime against Jittor on one random input."""
    max_abs_error: Optional[float]   # None for a labels-only comparison
    agreement: float                 # fraction of pixels with the same class
    logits_range: float              # max |logit| of the Jittor output, for scale
    jittor_seconds: float
    onnxruntime_seconds: float

    def passed(self, max_abs_error=MAX_ABS_ERROR, min_agreement=MIN_AGREEMENT):
        error_ok = self.max_abs_error is None or self.max_abs_error <= max_abs_error
        return error_ok and self.agreement >= min_agreement

    def summary(self):
        error = 'n/a' if self.max_abs_error is None else f'{self.max_abs_error:.3g}'
        return (f'max |logit difference| {error} (logits up to {self.logits_range:.3g}), argmax agreement '
                f'{100 * self.agreement:.4f}%, Jittor {self.jittor_seconds:.2f} s, ONNX Runtime '
                f'{self.onnxruntime_seconds:.2f} s')


def check_shape(shape, divisor=SIZE_DIVISOR):
    """(H, W) as ints; both positive multiples of ``divisor``."""
    if len(shape) != 2:
        raise ExportArgumentError(f'the export shape must be (H, W), got {tuple(shape)}')
    height, width = (int(s) for s in shape)
    if min(height, width) < 1 or height % divisor or width % divisor:
        raise ExportArgumentError(f'export shape {height}x{width}: H and W must be positive multiples of {divisor} '
                         f'(the backbones\' output stride); e.g. {max(divisor, height // divisor * divisor)}x'
                         f'{max(divisor, width // divisor * divisor)}')
    return height, width


def check_opset(opset):
    onnx = require('onnx')
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= int(opset) <= newest:
        raise ExportArgumentError(f'opset {opset} is not supported: use {MIN_OPSET}..{newest} (the installed onnx '
                         f'{onnx.__version__} knows up to {newest})')
    return int(opset)


def ort_session(model, threads=None):
    """An ONNX Runtime CPU session for a model file path or serialized bytes (threads: all cores)."""
    ort = require('onnxruntime')
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or os.cpu_count() or 1)
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=['CPUExecutionProvider'])


def random_inputs(shape, depth_channels, batch=1, seed=0):
    """Normalised inputs as the pipelines produce them (roughly zero mean, unit spread)."""
    rng = np.random.default_rng(seed)
    height, width = shape
    rgb = rng.standard_normal((batch, 3, height, width)).astype(np.float32)
    depth = rng.standard_normal((batch, 1, height, width)).astype(np.float32)
    return rgb, np.repeat(depth, depth_channels, axis=1)


def verify_onnx(model, session, shape, depth_channels, seed=0):
    """Run ``model`` (Jittor) and ``session`` (ONNX Runtime) on one random input and compare."""
    rgb, depth = random_inputs(shape, depth_channels, seed=seed)
    start = time.perf_counter()
    with jt.no_grad():
        expected = model.encode_decode(jt.array(rgb), jt.array(depth)).numpy()
    jittor_seconds = time.perf_counter() - start
    output_names = [o.name for o in session.get_outputs()]
    start = time.perf_counter()
    results = dict(zip(output_names, session.run(None, {'rgb': rgb, 'depth': depth})))
    ort_seconds = time.perf_counter() - start
    expected_labels = expected.argmax(axis=1)
    error = None
    if 'logits' in results:
        logits = results['logits']
        if logits.shape != expected.shape:
            raise VerificationError(f'ONNX Runtime logits have shape {logits.shape}, Jittor {expected.shape}')
        error = float(np.abs(logits - expected).max())
    labels = results['labels'] if 'labels' in results else results['logits'].argmax(axis=1)
    return Verification(max_abs_error=error, agreement=float((labels == expected_labels).mean()),
                        logits_range=float(np.abs(expected).max()), jittor_seconds=jittor_seconds,
                        onnxruntime_seconds=ort_seconds)


def _metadata(cfg, shape, depth_channels, output, dataset_meta):
    metadata = {META_SHAPE: f'{shape[0]},{shape[1]}', META_DEPTH_CHANNELS: str(depth_channels), META_OUTPUT: output,
                'dformer_seg.version': __version__}
    if cfg is not None:
        metadata[META_CONFIG] = cfg.pretty_text
    if dataset_meta:
        metadata[META_DATASET] = json.dumps({key: [list(v) if isinstance(v, (list, tuple)) else v for v in value]
                                             for key, value in dataset_meta.items()})
    return metadata


def export_onnx(model, path, shape, depth_channels=3, output='logits', opset=DEFAULT_OPSET, dynamic_shape=False,
                verify=True, seed=0, max_abs_error=MAX_ABS_ERROR, min_agreement=MIN_AGREEMENT):
    """Export ``model`` (an :class:`RGBDEncoderDecoder` in eval mode) to the ONNX file ``path``.

    Inputs ``rgb`` (1, 3, H, W) and ``depth`` (1, depth_channels, H, W), normalised
    as the test pipeline leaves them; output ``logits`` (1, classes, H, W) or
    ``labels`` (1, H, W, int64). With ``verify``, ``onnx.checker`` and ONNX
    Runtime check the graph against the Jittor logits (``max_abs_error``,
    ``min_agreement``) before anything is written. ``model.cfg`` and
    ``model.dataset_meta`` (when present) are stored as metadata, so that the
    file alone is enough for inference. Returns the :class:`Verification`
    (None without ``verify``).
    """
    onnx = require('onnx')
    if verify:
        require('onnxruntime')
    if output not in OUTPUTS:
        raise ExportArgumentError(f'output must be one of {OUTPUTS}, got {output!r}')
    opset = check_opset(opset)
    shape = check_shape(shape)
    if dynamic_shape:
        raise ExportError(
            'dynamic H and W are not possible for these models: the graph holds tables built for the stage sizes '
            '(DFormer: the window-pooling and upsampling matrices; DFormerv2: the rotary tables and distance '
            'priors) and reshapes to them; export one file per input size with --shape H W')
    graph = trace_segmentor(model, shape, depth_channels, output=output, opset=opset)
    metadata = _metadata(getattr(model, 'cfg', None), shape, depth_channels, output,
                         getattr(model, 'dataset_meta', None))
    final = graph.to_model(metadata=metadata, output_names=[output])
    onnx.checker.check_model(final)
    report = None
    if verify:
        checked = final if output == 'logits' else graph.to_model(metadata=metadata)
        report = verify_onnx(model, ort_session(checked.SerializeToString()), shape, depth_channels, seed=seed)
        if not report.passed(max_abs_error, min_agreement):
            raise VerificationError(f'ONNX Runtime does not reproduce the Jittor model (limits: max error '
                                    f'{max_abs_error}, agreement {100 * min_agreement}%): {report.summary()}; '
                                    f'nothing was written to {path}')
    with atomic_write(path) as f:
        f.write(final.SerializeToString())
    return report
