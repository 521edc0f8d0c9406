"""Colour label maps and draw them over images (no Jittor needed)."""
from .drawing import draw_legend, overlay_label_map, show_result
from .palette import check_palette, colorize, default_palette
from .report import write_report

__all__ = ['check_palette', 'colorize', 'default_palette', 'draw_legend', 'overlay_label_map', 'show_result']
__all__ += ['write_report']
