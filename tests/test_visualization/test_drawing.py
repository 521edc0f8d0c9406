import cv2
import numpy as np
import pytest

from dformer_seg.visualization import colorize, default_palette, draw_legend, overlay_label_map, show_result

PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]  # RGB


def stripes(h=8, w=12, num_classes=4):
    return (np.arange(w)[None, :].repeat(h, 0) * num_classes // w).astype(np.int64)


def test_colorize_uses_the_palette_and_ignore_colour():
    label = np.array([[0, 1], [3, 255]])
    image = colorize(label, PALETTE, ignore_index=255, ignore_color=(9, 9, 9))
    assert image.dtype == np.uint8 and image.shape == (2, 2, 3)
    assert image[0, 0].tolist() == [255, 0, 0] and image[1, 0].tolist() == [255, 255, 0]
    assert image[1, 1].tolist() == [9, 9, 9]
    with pytest.raises(ValueError, match='label 255 has no colour: the palette has 4 entries'):
        colorize(label, PALETTE)
    with pytest.raises(ValueError, match='label -1 has no colour'):
        colorize(np.array([[-1]]), PALETTE)
    with pytest.raises(ValueError, match='integer array'):
        colorize(np.zeros((2, 2), np.float32), PALETTE)
    with pytest.raises(ValueError, match=r'list of \(r, g, b\)'):
        colorize(label, [(1, 2)])


def test_default_palette_is_fixed():
    assert default_palette(5) == default_palette(5)
    assert np.asarray(default_palette(7)).shape == (7, 3)
    assert default_palette(3) == default_palette(7)[:3]


def test_overlay_blends_in_the_image_channel_order():
    label = stripes()
    bgr = np.full(label.shape + (3,), 100, np.uint8)
    bgr[..., 0] = 20
    assert np.array_equal(overlay_label_map(bgr, label, PALETTE, opacity=0.0), bgr)
    full = overlay_label_map(bgr, label, PALETTE, opacity=1.0)
    assert full[0, 0].tolist() == [0, 0, 255]  # class 0 is red: (0, 0, 255) in BGR
    assert overlay_label_map(bgr[..., ::-1], label, PALETTE, opacity=1.0, color_order='rgb')[0, 0].tolist() \
        == [255, 0, 0]
    half = overlay_label_map(bgr, label, PALETTE, opacity=0.5)
    assert half[0, 0].tolist() == [10, 50, 178]  # round(0.5 * image + 0.5 * colour); .5 rounds to even
    ignored = label.copy()
    ignored[0, 0] = 255
    assert overlay_label_map(bgr, ignored, PALETTE, opacity=1.0, ignore_index=255)[0, 0].tolist() == [20, 100, 100]


def test_overlay_resizes_the_image_to_the_label_map():
    label = stripes(8, 12)
    small = np.zeros((4, 6, 3), np.uint8)
    assert overlay_label_map(small, label, PALETTE).shape == (8, 12, 3)
    with pytest.raises(ValueError, match='opacity'):
        overlay_label_map(small, label, PALETTE, opacity=1.5)
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        overlay_label_map(np.zeros((8, 12), np.uint8), label, PALETTE)
    with pytest.raises(ValueError, match='color_order'):
        overlay_label_map(small, label, PALETTE, color_order='hsv')


def test_legend_lists_the_classes_with_their_colours():
    image = np.zeros((40, 30, 3), np.uint8)
    drawn = draw_legend(image, [1, 3], PALETTE, class_names=['a', 'b', 'c', 'd'])
    assert drawn.shape[0] == 40 and drawn.shape[1] > 30
    assert np.array_equal(drawn[:, :30], image)
    panel = drawn[:, 30:].reshape(-1, 3).tolist()
    assert [0, 255, 0] in panel and [0, 255, 255] in panel  # class 1 green, class 3 yellow, in BGR
    assert [255, 0, 0] not in panel  # class 2 (blue) is not listed

    many = draw_legend(image, range(4), PALETTE)  # 40 pixels fit two rows: two columns
    one_column = draw_legend(np.zeros((200, 30, 3), np.uint8), range(4), PALETTE)
    assert many.shape[1] > one_column.shape[1]
    assert np.array_equal(draw_legend(image, [], PALETTE), image)
    with pytest.raises(ValueError, match='class 3 has no name'):
        draw_legend(image, [3], PALETTE, class_names=['a'])
    with pytest.raises(ValueError, match='class 7 has no colour'):
        draw_legend(image, [7], PALETTE)


def test_show_result_reads_paths_and_writes_files(tmp_path):
    label = stripes(16, 24)
    bgr = np.random.default_rng(0).integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    path = str(tmp_path / 'rgb.png')
    cv2.imwrite(path, bgr)
    out = str(tmp_path / 'sub' / 'overlay.png')
    drawn = show_result(path, label, PALETTE, opacity=0.3, out_file=out)
    assert np.array_equal(drawn, overlay_label_map(bgr, label, PALETTE, opacity=0.3))
    assert np.array_equal(cv2.imread(out), drawn)

    rgb_out = str(tmp_path / 'rgb_overlay.png')
    drawn_rgb = show_result(bgr[..., ::-1], label, PALETTE, legend=True, class_names=list('abcd'),
                            color_order='rgb', out_file=rgb_out)
    assert drawn_rgb.shape[1] > 24
    assert np.array_equal(cv2.imread(rgb_out), drawn_rgb[..., ::-1])  # files are written as BGR

    no_palette = show_result(bgr, label, opacity=1.0)  # the fixed fallback colours
    assert no_palette[0, 0].tolist() == list(default_palette(4)[0][::-1])
