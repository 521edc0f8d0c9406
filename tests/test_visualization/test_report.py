"""write_report: the one-page HTML evaluation report, its folder rules, and the page as a real browser shows it."""
import os

import cv2
import numpy as np
import pytest

from dformer_seg.config import ConfigError
from dformer_seg.visualization import write_report
from dformer_seg.visualization.report import WorstImage, error_map, run_info, worst_panels

from browser_page import BROWSERS, find_browser, load_page

CLASSES = ['wall', 'floor', '<b>box</b>']
PALETTE = [(120, 120, 120), (80, 50, 50), (4, 200, 3)]


def evaluation_results():
    matrix = np.array([[50, 5, 5], [3, 40, 2], [10, 0, 0]])
    tp, labelled, predicted = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    iou = 100.0 * tp / (labelled + predicted - tp)
    acc = 100.0 * tp / labelled
    summary = dict(aAcc=100.0 * tp.sum() / matrix.sum(), mIoU=float(iou.mean()), mAcc=float(acc.mean()), fwIoU=60.0)
    return dict(summary=summary, iou=iou, acc=acc, matrix=matrix, num_samples=3)


def worst_images():
    rng = np.random.default_rng(0)
    return [WorstImage(f'test_{i:03d}', 20.0 + i, rng.integers(0, 256, (24, 32, 3), dtype=np.uint8),
                       rng.integers(1, 255, (24, 32), dtype=np.uint8), rng.integers(0, 3, (24, 32)),
                       rng.integers(0, 3, (24, 32))) for i in range(2)]


DEPTH_ROWS = [dict(name='missing', key='missing', pixels=0, aAcc=float('nan'), mIoU=float('nan'), mAcc=float('nan')),
              dict(name='<2m', key='below_2m', pixels=80, aAcc=81.0, mIoU=52.5, mAcc=60.0),
              dict(name='>=2m', key='above_2m', pixels=35, aAcc=70.0, mIoU=40.0, mAcc=45.0)]
ROBUSTNESS = dict(metric='mIoU', clean=49.5, severities=[1, 2, 3, 4, 5], corruptions={
    'edge_holes': dict(modality='depth', scores=[48.0, 45.0, 40.0, 35.0, 30.0], mean=39.6, relative=0.8),
    'jpeg': dict(modality='rgb', scores=[49.0, 48.0, 46.0, 40.0, 30.0], mean=42.6, relative=0.86),
    'depth_noise+rgb_noise': dict(modality='both', scores=[45.0, 40.0, 30.0, 20.0, 10.0], mean=29.0, relative=0.59)})


def full_report(out_dir, **kwargs):
    return write_report(out_dir, evaluation_results(), CLASSES, PALETTE,
                        info=run_info(config='configs/demo/x.py', checkpoint='work_dirs/x/epoch_8.pkl'),
                        depth_rows=DEPTH_ROWS, worst_images=worst_images(), robustness=ROBUSTNESS, **kwargs)


def test_the_page_has_every_section_and_its_pictures(tmp_path):
    page = full_report(str(tmp_path / 'report'))
    text = open(page, encoding='utf-8').read()
    for heading in ('Run', 'IoU per class', 'Confusion matrix', 'mIoU per depth range',
                    'Robustness to sensor corruptions', 'The worst images'):
        assert f'<h2>{heading}</h2>' in text
    assert '&lt;b&gt;box&lt;/b&gt;' in text and '<b>box</b>' not in text  # names are escaped
    assert 'work_dirs/x/epoch_8.pkl' in text and 'configs/demo/x.py' in text and 'commit' in text
    assert '<script' not in text and 'http' not in text  # nothing to run, nothing from the network
    images = os.path.join(os.path.dirname(page), 'images')
    expected = {'class_iou.png', 'confusion_matrix.png', 'depth_ranges.png', 'robustness.png'}
    expected |= {f'worst_{i:02d}_{kind}.png' for i in range(2) for kind in ('rgb', 'depth', 'label', 'pred', 'error')}
    assert set(os.listdir(images)) == expected
    for name in expected:
        assert f'src="images/{name}"' in text and cv2.imread(os.path.join(images, name)) is not None


def test_optional_sections_are_left_out_or_explained(tmp_path):
    page = write_report(str(tmp_path / 'bare'), evaluation_results(), CLASSES)
    text = open(page, encoding='utf-8').read()
    assert 'Robustness' not in text and 'The worst images' not in text
    assert 'Not computed: the evaluation had no depth ranges' in text


def test_a_folder_with_files_is_refused_unless_overwrite(tmp_path):
    folder = tmp_path / 'report'
    folder.mkdir()
    (folder / 'notes.txt').write_text('mine')
    with pytest.raises(ConfigError, match='exists and is not empty .*overwrite'):
        full_report(str(folder))
    assert not (folder / 'index.html').exists()
    full_report(str(folder), overwrite=True)
    assert (folder / 'index.html').exists() and (folder / 'notes.txt').read_text() == 'mine'
    a_file = tmp_path / 'file.html'
    a_file.write_text('')
    with pytest.raises(ConfigError, match='is an existing file'):
        full_report(str(a_file))


def test_error_panel_marks_wrong_pixels_red_and_unlabelled_black():
    image = np.full((2, 3, 3), 200, np.uint8)
    label = np.array([[0, 1, 255], [2, 2, 1]])
    pred = np.array([[0, 2, 1], [2, 0, 1]])
    error = error_map(image, label, pred)
    wrong = np.array([[False, True, False], [False, True, False]])
    assert (error[wrong] == (40, 40, 230)).all()
    assert (error[0, 2] == 0).all()
    assert (error[~wrong & (label != 255)] == 90).all()  # right: the image, dimmed
    panels = worst_panels(WorstImage('x', 1.0, cv2.resize(image, (6, 4)), None, label, pred), PALETTE)
    assert list(panels) == ['rgb', 'depth', 'label', 'pred', 'error']
    assert all(p.shape == (2, 3, 3) for p in panels.values())


BROWSER = find_browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason=f'no Chromium browser on PATH (tried {", ".join(BROWSERS)}): install Debian\'s '
                            'chromium-headless-shell to check the report in a browser')


@needs_browser
def test_the_page_loads_in_a_browser_with_every_image_and_no_error(tmp_path):
    page = full_report(str(tmp_path / 'report'))
    screenshot = str(tmp_path / 'report.png')
    loaded = load_page(page, screenshot=screenshot, binary=BROWSER)
    assert loaded['errors'] == []
    assert len(loaded['images']) == 14
    assert all(image['complete'] and image['naturalWidth'] > 0 for image in loaded['images']), loaded['images']
    assert loaded['title'] == 'Evaluation report: x.py'
    shot = cv2.imread(screenshot)
    assert shot.shape[1] > 1100 and shot.shape[0] > 1500  # the whole page, not just the first screen
    assert shot.std() > 20


@needs_browser
def test_the_browser_check_sees_a_missing_image(tmp_path):
    page = full_report(str(tmp_path / 'report'))
    os.remove(os.path.join(os.path.dirname(page), 'images', 'robustness.png'))
    loaded = load_page(page, binary=BROWSER)
    broken = [image['src'] for image in loaded['images'] if image['naturalWidth'] == 0]
    assert broken == ['images/robustness.png']
    assert any('robustness.png' in error for error in loaded['errors'])
