"""Models; importing this package registers every backbone, head, loss and segmentor."""
from . import backbones, decode_heads, losses, segmentors  # noqa: F401  (registration side effects)
