"""Draw label maps over images: colour overlays and a legend of the classes present.

Images are uint8 HxWx3 arrays in a stated channel order (``color_order``:
'bgr' as OpenCV reads and writes files, or 'rgb'); palettes are RGB, like the
data sets' palettes. Every function returns its drawing in the channel order of
the image it was given.
"""
import os

import cv2
import numpy as np

from ..datasets.io import READ_COLOR, read_image_file, write_image_file
from .palette import check_palette, colorize, default_palette

COLOR_ORDERS = ('bgr', 'rgb')
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.4
_ROW_HEIGHT = 16
_SWATCH = 12
_MARGIN = 4


def _check_order(color_order):
    if color_order not in COLOR_ORDERS:
        raise ValueError(f'color_order must be one of {COLOR_ORDERS}, got {color_order!r}')
    return color_order


def _check_image(image):
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'an image to draw on must be HxWx3 uint8, got shape {image.shape} and type {image.dtype}')
    return image


def _palette_in_order(palette, color_order):
    colours = check_palette(palette)
    return colours[:, ::-1] if color_order == 'bgr' else colours


def overlay_label_map(image, label_map, palette, opacity=0.5, color_order='bgr', ignore_index=None):
    """Blend the colours of ``label_map`` over ``image``: ``image * (1 - opacity) + colour * opacity``.

    The image is resized (bilinear) to the label map's size when they differ;
    pixels equal to ``ignore_index`` keep the image's colour.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    image = _check_image(image)
    label_map = np.asarray(label_map)
    if image.shape[:2] != label_map.shape:
        image = cv2.resize(image, (label_map.shape[1], label_map.shape[0]), interpolation=cv2.INTER_LINEAR)
    colours = _palette_in_order(palette, _check_order(color_order))
    colour = colorize(label_map, colours, ignore_index=ignore_index)
    blended = (image * (1.0 - opacity) + colour * opacity).round().astype(np.uint8)
    if ignore_index is not None:
        ignored = label_map == ignore_index
        blended[ignored] = image[ignored]
    return blended


def draw_legend(image, class_ids, palette, class_names=None, color_order='bgr'):
    """``image`` with a white panel on its right listing ``class_ids``: a colour swatch and
    the class name (the id when there are no names), in as many columns as needed."""
    image = _check_image(image)
    colours = _palette_in_order(palette, _check_order(color_order))
    class_ids = [int(c) for c in class_ids]
    if not class_ids:
        return image.copy()
    for class_id in class_ids:
        if not 0 <= class_id < len(colours):
            raise ValueError(f'class {class_id} has no colour: the palette has {len(colours)} entries')
    if class_names is not None and max(class_ids) >= len(class_names):
        raise ValueError(f'class {max(class_ids)} has no name: {len(class_names)} class names given')
    labels = [f'{class_names[c]}' if class_names is not None else str(c) for c in class_ids]

    height = image.shape[0]
    rows = max(1, (height - 2 * _MARGIN) // _ROW_HEIGHT)
    columns = [list(range(start, min(start + rows, len(labels)))) for start in range(0, len(labels), rows)]
    text_width = [cv2.getTextSize(label, _FONT, _FONT_SCALE, 1)[0][0] for label in labels]
    column_widths = [_SWATCH + 2 * _MARGIN + max(text_width[i] for i in column) + _MARGIN for column in columns]
    panel_height = max(height, 2 * _MARGIN + min(rows, len(labels)) * _ROW_HEIGHT)
    panel = np.full((panel_height, sum(column_widths), 3), 255, dtype=np.uint8)
    left = 0
    for column, width in zip(columns, column_widths):
        for row, index in enumerate(column):
            top = _MARGIN + row * _ROW_HEIGHT
            swatch_colour = tuple(int(v) for v in colours[class_ids[index]])
            cv2.rectangle(panel, (left + _MARGIN, top + 2), (left + _MARGIN + _SWATCH - 1, top + 2 + _SWATCH - 1),
                          swatch_colour, thickness=-1)
            cv2.rectangle(panel, (left + _MARGIN, top + 2), (left + _MARGIN + _SWATCH - 1, top + 2 + _SWATCH - 1),
                          (0, 0, 0), thickness=1)
            cv2.putText(panel, labels[index], (left + 2 * _MARGIN + _SWATCH, top + _SWATCH), _FONT, _FONT_SCALE,
                        (0, 0, 0), 1, cv2.LINE_AA)
        left += width
    canvas = np.full((panel_height, image.shape[1] + panel.shape[1], 3), 255, dtype=np.uint8)
    canvas[:height, :image.shape[1]] = image
    canvas[:, image.shape[1]:] = panel
    return canvas


def show_result(image, label_map, palette=None, class_names=None, opacity=0.5, legend=False, out_file=None,
                color_order='bgr', ignore_index=None):
    """Colour ``label_map`` over ``image`` and optionally add a legend of the classes present.

    Args:
        image: a file path (read as BGR; ``color_order`` is then 'bgr') or an HxWx3 uint8 array.
        label_map: (H, W) class ids, e.g. ``inference_model(...).label_map``.
        palette: RGB colour per class; None: ``default_palette`` (over ``class_names`` or the ids present).
        class_names: names for the legend (e.g. ``model.dataset_meta['classes']``).
        opacity: weight of the class colours (0: the image only, 1: the colours only).
        legend: append a panel that names every class present in the label map.
        out_file: also write the drawing there (any OpenCV extension; folders are created).
        color_order: channel order of an array ``image`` and of the returned drawing.
        ignore_index: a label value drawn as the plain image and left out of the legend.

    Returns the drawing, HxWx3 (wider with a legend) uint8 in ``color_order``.
    """
    if isinstance(image, (str, os.PathLike)):
        image, color_order = read_image_file(os.fspath(image), READ_COLOR, 'image'), 'bgr'
    color_order = _check_order(color_order)
    label_map = np.asarray(label_map)
    if palette is None:
        present_max = int(label_map[label_map != ignore_index].max(initial=0)) if ignore_index is not None \
            else int(label_map.max(initial=0))
        palette = default_palette(max(len(class_names or ()), present_max + 1))
    drawing = overlay_label_map(image, label_map, palette, opacity, color_order, ignore_index)
    if legend:
        present = np.unique(label_map)
        if ignore_index is not None:
            present = present[present != ignore_index]
        drawing = draw_legend(drawing, present, palette, class_names, color_order)
    if out_file is not None:
        write_image_file(os.fspath(out_file), drawing if color_order == 'bgr' else drawing[:, :, ::-1].copy())
    return drawing
