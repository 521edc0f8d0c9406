"""Small argument checks shared across the package."""
import numbers


def int_pair(value, name, minimum=0):
    """``value`` (an int or a pair of ints) as an ``(h, w)`` tuple; each must be at least ``minimum``.

    Raises ValueError naming ``name`` otherwise (floats, other lengths, too small).
    """
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)
    pair = (value, value) if is_int(value) else value
    if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(is_int(v) for v in pair) \
            or min(pair) < minimum:
        bound = {0: 'non-negative', 1: 'positive'}.get(minimum, f'>= {minimum}')
        raise ValueError(f'{name} must be an int or an (h, w) pair of {bound} ints, got {value!r}')
    return int(pair[0]), int(pair[1])
