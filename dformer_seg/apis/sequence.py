"""Segment an RGB-D sequence frame by frame and write an mp4 with the prediction drawn over it.

    from dformer_seg.apis import init_model
    from dformer_seg.apis.sequence import segment_sequence
    model = init_model('configs/demo/dformer_tiny_demo.py', 'epoch_8.pkl')
    summary = segment_sequence(model, 'recording/rgb.mp4', 'recording/depth/', 'out/segmented.mp4',
                               side_by_side=True, labels_dir='out/labels')

The RGB stream is a folder of frames or a video file; the depth stream is a folder of depth frames (8-bit, or
16-bit PNGs scaled by the config's ``LoadDepthFromFile.raw_depth_range``), a depth video (8-bit), or None (the
model then gets the missing-depth value, as ``inference_model`` without depth). Frames of two folders pair in
file name order; the two streams must have the same number of frames of the same size. A frame that cannot
be read or segmented is reported and skipped; the summary lists it.
"""
import logging
import os
import time
from typing import Iterator, NamedTuple, Optional

import cv2
import numpy as np

from ..datasets.errors import DataError
from ..datasets.io import READ_COLOR, READ_GRAYSCALE_ANY_DEPTH, read_depth_file, read_image_file, write_image_file
from ..utils.misc import ProgressBar
from ..visualization import default_palette, overlay_label_map
from ..visualization.panels import depth_to_colour
from .inference import inference_model

logger = logging.getLogger('dformer_seg')

FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
DEPTH_EXTENSIONS = FRAME_EXTENSIONS + ('.npy', '.exr')
DEFAULT_FPS = 10.0
VIDEO_FOURCC = 'mp4v'


class Frame(NamedTuple):
    """One frame of a stream: its position, name, and the array (None with ``error`` when it is broken)."""
    index: int
    name: str
    array: Optional[np.ndarray]
    error: Optional[str] = None


class FrameFolder:
    """The image files of a folder, sorted by name, as a stream of frames."""

    def __init__(self, folder, what, extensions=FRAME_EXTENSIONS, depth=False):
        self.paths = sorted(os.path.join(folder, name) for name in os.listdir(folder)
                            if os.path.splitext(name)[1].lower() in extensions
                            and os.path.isfile(os.path.join(folder, name)))
        if not self.paths:
            raise DataError(f'{what} folder {folder} holds no frames ({", ".join(extensions)})')
        self.source, self.what, self.depth = folder, what, depth
        self.fps = None

    def __len__(self):
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.paths):
            name = os.path.splitext(os.path.basename(path))[0]
            try:
                array = (read_depth_file(path, READ_GRAYSCALE_ANY_DEPTH, self.what) if self.depth
                         else read_image_file(path, READ_COLOR, self.what))
            except DataError as exc:
                yield Frame(index, name, None, str(exc))
                continue
            yield Frame(index, name, array)


class VideoStream:
    """The frames of a video file (decoded by OpenCV's FFmpeg backend); a depth video is read as 8-bit gray."""

    def __init__(self, path, what, depth=False):
        self.capture = cv2.VideoCapture(path)
        if not self.capture.isOpened():
            raise DataError(f'{what} video {path} cannot be opened: not a video, or a codec/container that '
                            f'OpenCV (FFmpeg) cannot decode')
        ok, first = self.capture.read()
        if not ok:
            self.capture.release()
            raise DataError(f'{what} video {path}: no frame can be decoded (an unsupported codec or a broken file)')
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self.source, self.what, self.depth = path, what, depth
        self.count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else None
        self.stem = os.path.splitext(os.path.basename(path))[0]

    def __len__(self):
        return self.count

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, frame = self.capture.read()
            if not ok:
                break
            if self.depth:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            yield Frame(index, f'{self.stem}_{index:06d}', frame)
            index += 1
        self.capture.release()
        if index != self.count:
            logger.warning(f'{self.what} video {self.source}: {index} frames decoded, its header says {self.count}')


def open_stream(path, what, depth=False):
    """A :class:`FrameFolder` for a folder, a :class:`VideoStream` for a file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    if os.path.isdir(path):
        return FrameFolder(path, what, DEPTH_EXTENSIONS if depth else FRAME_EXTENSIONS, depth=depth)
    return VideoStream(path, what, depth=depth)


def _check_streams(rgb, depth):
    if depth is not None and len(rgb) != len(depth):
        raise DataError(f'the depth stream {depth.source} has {len(depth)} frames but the RGB stream {rgb.source} '
                        f'has {len(rgb)}; they must have one depth frame per RGB frame')


def _check_sizes(rgb_frame, depth_frame, depth_source):
    rgb_size, depth_size = rgb_frame.array.shape[:2], depth_frame.array.shape[:2]
    if rgb_size != depth_size:
        raise DataError(f'the depth stream {depth_source} has frames of {depth_size[1]}x{depth_size[0]} (WxH) but '
                        f'the RGB frames are {rgb_size[1]}x{rgb_size[0]}; register the depth to the RGB camera first')


def compose_frame(image, label_map, palette, depth=None, side_by_side=False, opacity=0.5):
    """The output frame: the prediction's colours over the RGB frame, or RGB | depth | prediction."""
    overlay = overlay_label_map(image, label_map, palette, opacity=opacity, color_order='bgr')
    if not side_by_side:
        return overlay
    depth_view = depth_to_colour(depth) if depth is not None else np.full_like(image, 128)
    return np.concatenate([image, depth_view, overlay], axis=1)


def _label_image(label_map):
    return label_map.astype(np.uint8 if label_map.max(initial=0) < 256 else np.uint16)


def segment_sequence(model, rgb, depth=None, out_video=None, side_by_side=False, labels_dir=None, opacity=0.5,
                     fps=None, progress=True):
    """Segment every frame of an RGB-D sequence with ``model`` (from ``init_model``); write the video and labels.

    Args:
        rgb: a folder of RGB frames or a video file.
        depth: a folder of depth frames, a depth video, or None (no depth).
        out_video: the .mp4 to write (mp4v codec; None: no video).
        side_by_side: RGB | depth | prediction in each video frame instead of the overlay alone.
        labels_dir: also write each frame's label PNG (class index per pixel) there, named after the frame.
        fps: the video's frame rate (default: the RGB video's, else 10).

    Returns ``dict(frames, written, skipped=[(frame name, reason)], seconds, fps, video, labels_dir)``; ``fps``
    counts the frames segmented per second.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    rgb_stream = open_stream(rgb, 'RGB')
    depth_stream = open_stream(depth, 'depth', depth=True) if depth is not None else None
    _check_streams(rgb_stream, depth_stream)
    meta = getattr(model, 'dataset_meta', None) or {}
    palette = meta.get('palette') or default_palette(int(getattr(model, 'num_classes', 0) or 256))
    fps = float(fps or rgb_stream.fps or DEFAULT_FPS)
    if labels_dir:
        os.makedirs(labels_dir, exist_ok=True)

    writer, skipped, written, sizes_checked = None, [], 0, False
    bar = ProgressBar(len(rgb_stream), enabled=progress)
    depth_frames = iter(depth_stream) if depth_stream is not None else None
    start = time.time()
    try:
        for rgb_frame in rgb_stream:
            depth_frame = next(depth_frames, None) if depth_frames is not None else None
            if depth_frames is not None and depth_frame is None:
                raise DataError(f'the depth stream {depth_stream.source} ended at frame {rgb_frame.index}, before '
                                f'the RGB stream {rgb_stream.source}')
            problem = rgb_frame.error or (depth_frame.error if depth_frame is not None else None)
            if problem is None and depth_frame is not None and not sizes_checked:
                _check_sizes(rgb_frame, depth_frame, depth_stream.source)
                sizes_checked = True
            if problem is None:
                try:
                    label_map = inference_model(model, rgb_frame.array,
                                                depth_frame.array if depth_frame is not None else None,
                                                color_order='bgr').label_map
                except DataError as exc:
                    problem = str(exc)
            bar.update()
            if problem is not None:
                logger.warning(f'frame {rgb_frame.index} ({rgb_frame.name}) skipped: {problem}')
                skipped.append((rgb_frame.name, problem))
                continue
            if labels_dir:
                write_image_file(os.path.join(labels_dir, f'{rgb_frame.name}.png'), _label_image(label_map))
            if out_video:
                picture = compose_frame(rgb_frame.array, label_map, palette,
                                        depth_frame.array if depth_frame is not None else None, side_by_side,
                                        opacity)
                if writer is None:
                    writer = _open_writer(out_video, fps, picture.shape)
                writer.write(picture)
            written += 1
    finally:
        if writer is not None:
            writer.release()
    seconds = time.time() - start
    speed = written / seconds if seconds > 0 else float('nan')
    logger.info(f'{written} of {len(rgb_stream)} frames segmented in {seconds:.1f} s ({speed:.2f} frames per '
                f'second){f", {len(skipped)} skipped" if skipped else ""}'
                + (f'; video written to {out_video}' if out_video and written else ''))
    return dict(frames=len(rgb_stream), written=written, skipped=skipped, seconds=seconds, fps=speed,
                video=out_video if written else None, labels_dir=labels_dir)


def _open_writer(path, fps, shape):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*VIDEO_FOURCC), fps, (shape[1], shape[0]))
    if not writer.isOpened():
        raise DataError(f'cannot write the video {path}: OpenCV has no {VIDEO_FOURCC} encoder for it '
                        f'(use an .mp4 file name)')
    return writer
