"""DepthToGeometry: a 3-channel geometric encoding of a depth map (HHA-like, no camera needed)."""
import cv2
import numpy as np

from dformer_seg.datasets.pipelines import BaseTransform
from dformer_seg.registry import PIPELINES

# cv2.Sobel with ksize=3 sums a central difference over three rows with weights 1, 2, 1:
# dividing by 8 gives the slope per pixel.
_SOBEL_NORM = 8.0


@PIPELINES.register_module()
class DepthToGeometry(BaseTransform):
    """Replace the single-channel depth by ``(depth, slope_x, slope_y)``, all in 0..255.

    The slopes are the x and y components of the surface normal of the depth
    map seen as a height field, ``n = normalize(-dz/dx, -dz/dy, 1 / strength)``,
    mapped from [-1, 1] to [0, 255] (127.5: a surface facing the camera). The
    depth stays channel 0, so a backbone that reads only channel 0 (DFormer)
    sees exactly what it saw before.

    Place it after the geometric transforms and before ``Normalize``: a flip
    reverses the sign of a slope and a resize changes the slope per pixel.
    Both are accounted for here (slopes are measured per pixel of the
    original image using ``scale_factor``, and computed on the flipped map),
    which would not be the case if the encoding were computed first and then
    flipped or resized as an image.

    Args:
        strength: how steep a slope (depth units per original pixel) counts;
            larger values saturate sooner.
        blur: Gaussian kernel size applied to the depth before differentiating
            (odd, 0 or 1 for none): 8-bit depth is a staircase whose steps
            would otherwise dominate the slopes.
    """

    def __init__(self, strength=1.0, blur=5):
        if not strength > 0:
            raise ValueError(f'strength must be positive, got {strength}')
        if not isinstance(blur, int) or blur < 0 or (blur > 1 and blur % 2 == 0):
            raise ValueError(f'blur must be 0, 1 or an odd kernel size, got {blur!r}')
        self.strength = float(strength)
        self.blur = blur

    def slopes(self, depth, scale_factor=1.0):
        """Encoded (slope_x, slope_y), each HxW float32 in 0..255, of an HxW depth map."""
        depth = depth.astype(np.float32)
        if self.blur > 1:
            depth = cv2.GaussianBlur(depth, (self.blur, self.blur), 0, borderType=cv2.BORDER_REPLICATE)
        grad_x = cv2.Sobel(depth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE) / _SOBEL_NORM
        grad_y = cv2.Sobel(depth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE) / _SOBEL_NORM
        # Per pixel of the original image: a 2x upscaled map has half the slope per pixel.
        grad_x, grad_y = grad_x * scale_factor, grad_y * scale_factor
        inv_length = 1.0 / np.sqrt(grad_x ** 2 + grad_y ** 2 + 1.0 / self.strength ** 2)
        return (-grad_x * inv_length + 1.0) * 127.5, (-grad_y * inv_length + 1.0) * 127.5

    def transform(self, results):
        if 'depth' not in results:
            raise KeyError('DepthToGeometry needs the depth: put it after LoadDepthFromFile')
        depth = results['depth']
        if depth.ndim == 3 and depth.shape[2] != 1:
            raise ValueError(f'DepthToGeometry needs a single-channel depth (LoadDepthFromFile with '
                             f'color_type="grayscale"), got {depth.shape[2]} channels')
        if depth.min(initial=0) < 0:
            raise ValueError('DepthToGeometry expects depth in 0..255 but got negative values: put it before '
                             'Normalize')
        depth = depth.reshape(depth.shape[:2])
        slope_x, slope_y = self.slopes(depth, float(results.get('scale_factor', 1.0)))
        results['depth'] = np.stack([depth.astype(np.float32), slope_x, slope_y], axis=2)
        results['depth_channels'] = 3
        return results
