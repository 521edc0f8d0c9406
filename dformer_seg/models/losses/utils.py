"""Small helpers shared by the loss modules."""
import os

import numpy as np


def load_class_weight(class_weight):
    """Return per-class loss weights as a float32 numpy vector, or None.

    ``class_weight`` may be None, a sequence of numbers, a numpy array, or the
    path of a ``.npy`` file holding a 1-D array.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if not class_weight.endswith('.npy'):
            raise ValueError(f'class_weight file must be a .npy file, got {class_weight!r}')
        if not os.path.isfile(class_weight):
            raise FileNotFoundError(f'class_weight file not found: {class_weight}')
        class_weight = np.load(class_weight)
    weights = np.asarray(class_weight, dtype=np.float32)
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(f'class_weight must be a non-empty 1-D list of numbers, got shape {weights.shape}')
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError('class_weight must contain finite, non-negative numbers')
    return weights


def check_logits_and_label(logits, label, who):
    """Validate ``logits`` (N, C, *spatial) against ``label`` (N, *spatial)."""
    if logits.ndim < 2:
        raise ValueError(f'{who}: logits must be (N, C, ...), got shape {tuple(logits.shape)}')
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(label.shape) != expected:
        raise ValueError(f'{who}: label shape {tuple(label.shape)} does not match logits shape '
                         f'{tuple(logits.shape)}; expected label shape {expected}')


def float_logits(logits):
    """Logits in float32 for the loss arithmetic; float64 stays float64 (numerical gradient checks)."""
    return logits if str(logits.dtype) == 'float64' else logits.float32()


def one_hot_and_valid(logits, label, ignore_index, who):
    """``(one_hot, valid)`` of an integer ``label`` (N, *S) for ``logits`` (N, C, *S), in the logits' dtype:
    ``one_hot`` (N, C, *S) is all zeros at ignored pixels, ``valid`` (N, 1, *S) is 1 where the label counts.
    Label values other than ``ignore_index`` outside [0, C) are an error."""
    import jittor as jt

    check_logits_and_label(logits, label, who)
    num_classes = logits.shape[1]
    label = label.int32()
    valid = label != ignore_index if ignore_index is not None else jt.ones(label.shape, dtype='bool')
    bad = (valid & ((label < 0) | (label >= num_classes))).any()
    if bool(bad.item()):
        raise ValueError(f'{who}: label values must be in [0, {num_classes}) or equal to ignore_index')
    class_index = jt.index((label.shape[0], num_classes) + tuple(label.shape[1:]), dim=1)
    one_hot = ((class_index == label.unsqueeze(1)) & valid.unsqueeze(1)).cast(logits.dtype)
    return one_hot, valid.unsqueeze(1).cast(logits.dtype)
