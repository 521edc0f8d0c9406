from jittor import nn

from ... import ops


def resize(x, size=None, scale_factor=None, mode='bilinear', align_corners=False):
    """Resize an NCHW tensor; ``size`` is (H, W). Bilinear resizes to a size use :func:`ops.bilinear_resize`."""
    if size is not None:
        size = tuple(int(s) for s in size)
        if tuple(x.shape[-2:]) == size:
            return x
        if mode == 'bilinear' and scale_factor is None:
            return ops.bilinear_resize(x, size, align_corners=align_corners)
    return nn.interpolate(x, size=size, scale_factor=scale_factor, mode=mode,
                          align_corners=align_corners if mode != 'nearest' else None)
