"""What the engine asks of a model: :class:`BaseModel`.

A model implements ``execute(batch, mode)`` with two modes:

* ``'loss'``: a dict of named ``jt.Var`` (or lists of them): the entries whose name contains ``loss`` are
  summed into the training loss, the others (``acc_seg``, ...) are only logged;
* ``'predict'``: one output per sample of the batch (a segmentor's label maps, a classifier's class ids),
  numpy, ready for the metric.

A segmentor may also provide ``inference(img, depth, img_metas)`` (per-image score maps ``(C, H, W)``, as
``RGBDEncoderDecoder`` does): :meth:`BaseModel.predict_step` then predicts through it and refuses NaN or
infinite scores, which would all become class 0.

The engine calls :meth:`BaseModel.train_step` and :meth:`BaseModel.predict_step`. The optimizer wrapper
decides the precision of the step (``optim_wrapper.optim_context(model)``: Jittor's automatic float16 under
``amp``) and does backward, clipping, accumulation and the update; the model only computes.
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
import jittor as jt
import numpy as np
from jittor import nn

from ..utils.numerics import check_finite_scores


def parse_losses(losses):
    """Sum every entry whose name contains 'loss'; return ``(total, log_vars)``.

    ``log_vars`` holds every entry (losses and metrics such as ``acc_seg``) plus
    the total as ``'loss'``. An entry may be a ``jt.Var`` or a list of them.
    """
    if not isinstance(losses, dict) or not losses:
        raise TypeError(f'model(batch, mode="loss") must return a non-empty dict of named jt.Var, got {losses!r}')
    log_vars = {}
    for name, value in losses.items():
        if isinstance(value, jt.Var):
            log_vars[name] = value.mean()
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, jt.Var) for v in value):
            log_vars[name] = sum(v.mean() for v in value)
        else:
            raise TypeError(f'loss entry {name!r} must be a jt.Var or a list of jt.Var, got {type(value).__name__}')
    loss_names = [name for name in log_vars if 'loss' in name]
    if not loss_names:
        raise KeyError(f'the model returned no entry with "loss" in its name: {sorted(log_vars)}')
    total = sum(log_vars[name] for name in loss_names)
    log_vars['loss'] = total
    return total, log_vars


def float16_inputs(batch):
    """``batch`` with its float32 ``jt.Var`` entries in float16 while Jittor's automatic float16 is on
    (``auto_mixed_precision_level`` > 0); ``batch`` itself otherwise."""
    if not jt.flags.auto_mixed_precision_level:
        return batch
    return {key: (value.float16() if isinstance(value, jt.Var) and value.dtype == 'float32' else value)
            for key, value in batch.items()}


class BaseModel(nn.Module):
    """A model the engine can train and evaluate: subclasses implement ``execute(batch, mode)`` with the modes
    ``'loss'`` and ``'predict'`` (see the module docstring)."""

    def execute(self, batch, mode='loss'):
        raise NotImplementedError(f'{type(self).__name__} must implement execute(batch, mode) for the modes '
                                  f"'loss' and 'predict'")

    def rgbd_inputs(self, batch):
        """``(img, depth)`` of a batch dict, refusing anything else with the keys it has."""
        if not isinstance(batch, dict):
            raise TypeError(f'{type(self).__name__} takes a batch dict (img, depth, ...), got {type(batch).__name__}')
        for key in ('img', 'depth'):
            if key not in batch:
                raise KeyError(f'batch has no {key!r}; keys: {sorted(batch)}')
        return batch['img'], batch['depth']

    def train_step(self, data_batch, optim_wrapper):
        """Forward, loss, backward and (when an accumulation group is complete) the update for one batch;
        returns the logged values (``jt.Var``, ``'loss'`` is their total)."""
        with optim_wrapper.optim_context(self):
            losses = self(float16_inputs(data_batch), mode='loss')
            loss, log_vars = parse_losses(losses)
            optim_wrapper.update_params(loss)
        return log_vars

    def predict_step(self, data_batch):
        """The per-sample outputs of ``execute(batch, mode='predict')``, or, for a segmentor with ``inference``,
        the label maps of its checked score maps (in float16 when the caller turned Jittor's automatic float16
        on)."""
        batch = float16_inputs(data_batch)
        inference = getattr(self, 'inference', None)
        if not callable(inference):
            return self(batch, mode='predict')
        scores = inference(batch['img'], batch['depth'], batch.get('img_metas'))
        paths = [meta.get('img_path') for meta in batch.get('img_metas') or []]
        check_finite_scores(scores, f'the batch of {", ".join(map(str, paths))}' if paths else 'a batch')
        return [np.asarray(score.argmax(dim=0)[0].numpy(), dtype=np.int64) for score in scores]
