"""GeometryDFormer: DFormer whose depth stream reads a learned mix of several geometry channels."""
import jittor as jt
import numpy as np
from jittor import nn

from dformer_seg.models.backbones import DFormer
from dformer_seg.registry import BACKBONES


@BACKBONES.register_module()
class GeometryDFormer(DFormer):
    """DFormer fed with ``depth`` of ``geometry_channels`` channels (e.g. the output of
    ``DepthToGeometry``): a 1x1 convolution ``geometry_mix`` turns them into the single
    channel DFormer's depth stem reads.

    The mix starts as "take channel 0", so an untrained GeometryDFormer computes
    exactly what DFormer computes on the plain depth, and ImageNet-pretrained
    DFormer weights load unchanged (only ``geometry_mix`` is new). Training
    then decides how much of the other channels to use.

    Args:
        geometry_channels: channels of the depth input.
        **kwargs: the DFormer arguments (``arch``, ``dims``, ``drop_path_rate``, ...).
    """

    def __init__(self, geometry_channels=3, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(geometry_channels, int) or geometry_channels < 1:
            raise ValueError(f'geometry_channels must be a positive int, got {geometry_channels!r}')
        self.geometry_channels = geometry_channels
        # No bias: the depth stem's normalization absorbs a constant offset. (A one-element
        # bias loaded from a checkpoint also trips a Jittor 1.3 kernel-fusion bug.)
        self.geometry_mix = nn.Conv2d(geometry_channels, 1, 1, bias=False)
        pick_depth = np.zeros((1, geometry_channels, 1, 1), dtype=np.float32)
        pick_depth[0, 0] = 1.0
        self.geometry_mix.weight.assign(jt.array(pick_depth))

    def mix_weights(self):
        """The current weight of each input channel in the mix (numpy, one per channel)."""
        return self.geometry_mix.weight.numpy().reshape(-1)

    def execute(self, img, depth):
        if depth is None or depth.ndim != 4 or depth.shape[1] != self.geometry_channels:
            shape = None if depth is None else tuple(depth.shape)
            raise ValueError(f'GeometryDFormer expects depth of shape (B, {self.geometry_channels}, H, W), got '
                             f'{shape}; add DepthToGeometry to the pipeline (before Normalize)')
        return super().execute(img, self.geometry_mix(depth))
