"""Checks that weights, losses and predictions hold finite numbers (no NaN, no +-inf).

A run whose weights became NaN still trains, validates and saves without an
error (an all-NaN score map argmaxes to class 0), so the engine and the
inference API check explicitly and raise :class:`NonFiniteError`.
"""
MAX_NAMES_SHOWN = 5


class NonFiniteError(FloatingPointError):
    """Weights, a loss or the scores of a model hold NaN or infinite values."""


def _is_float(dtype):
    return 'float' in str(dtype)


def non_finite_variables(named_vars):
    """Names of the floating-point ``jt.Var`` in ``{name: var}`` that hold NaN or inf.

    Costs one reduction per variable and one synchronisation: ``x * 0`` is 0 for a
    finite x and NaN for NaN and +-inf, so its sum is 0 exactly when x is finite.
    """
    import jittor as jt

    names = [name for name, var in named_vars.items() if _is_float(var.dtype)]
    flags = [(named_vars[name] * 0).sum().float32() for name in names]
    if not flags:
        return []
    jt.sync(flags)
    return [name for name, flag in zip(names, flags) if flag.item() != 0]


def describe_names(names):
    shown = ', '.join(names[:MAX_NAMES_SHOWN])
    more = f' and {len(names) - MAX_NAMES_SHOWN} more' if len(names) > MAX_NAMES_SHOWN else ''
    return f'{len(names)} tensor(s): {shown}{more}'


def check_finite_model(model, when):
    """Raise :class:`NonFiniteError` when a parameter or buffer of ``model`` holds NaN or inf.

    ``when`` says where the check ran, e.g. ``'at iteration 12, before saving epoch_1.pkl'``.
    """
    bad = non_finite_variables(model.state_dict())
    if bad:
        raise NonFiniteError(f'the model weights hold NaN or infinite values {when} ({describe_names(bad)}). '
                             f'Training diverged: lower the learning rate, set optim_wrapper.clip_grad, or '
                             f'resume from an earlier checkpoint.')


def check_finite_scores(scores, what):
    """Raise :class:`NonFiniteError` unless every ``jt.Var`` in ``scores`` (the score maps of ``what``) is finite."""
    bad = non_finite_variables({str(i): s for i, s in enumerate(scores)})
    if bad:
        raise NonFiniteError(f'the model produced NaN or infinite scores for {what} (image(s) {", ".join(bad)} '
                             f'of the batch, counting from 0); its weights or inputs are broken, so no '
                             f'prediction is made from them')
