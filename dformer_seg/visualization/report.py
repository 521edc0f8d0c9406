"""A one-page HTML evaluation report: a static page that any browser opens from disk (no server, no network).

``write_report(out_dir, results, class_names, ...)`` writes ``out_dir/index.html`` and its pictures in
``out_dir/images/``: the summary metrics and the run (config, checkpoint, commit), the IoU of every class as a
bar chart, the confusion matrix as a heat map, mIoU per depth range, the robustness curves of
``tools/analysis/robustness.py`` when given, and the worst test images as RGB | depth | ground truth |
prediction | error panels. ``results`` is what ``IoUMetric.evaluate()`` leaves in ``IoUMetric.results``.
The page has no script; the pictures are PNG files beside it, so the folder can be copied or zipped as it is.
No Jittor is needed here (``report_hook.ReportHook`` collects the inputs during a test run).
"""
import datetime
import html
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..config import ConfigError
from ..datasets.io import write_image_file
from ..version import __version__
from .palette import check_palette, colorize, default_palette
from .panels import depth_to_colour

REPORT_FILE = 'index.html'
IMAGE_DIR = 'images'
WORST_PANELS = (('rgb', 'RGB'), ('depth', 'depth'), ('label', 'ground truth'), ('pred', 'prediction'),
                ('error', 'error (red: wrong)'))
SUMMARY_KEYS = ('mIoU', 'aAcc', 'mAcc', 'fwIoU')
_WRONG_BGR = (40, 40, 230)


@dataclass
class WorstImage:
    """One badly segmented test image: its name, mIoU (percent) and the arrays of its panels
    (``image`` BGR uint8, ``depth`` the raw depth map or None, ``label`` and ``pred`` class ids)."""
    name: str
    miou: float
    image: np.ndarray
    depth: Optional[np.ndarray]
    label: np.ndarray
    pred: np.ndarray


# ---------------------------------------------------------------------- the folder and the run
def check_report_dir(out_dir, overwrite=False):
    """Refuse a report folder that is a file, or a folder that holds anything, unless ``overwrite``."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f'report folder {out_dir} is an existing file; give a new or empty folder')
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise ConfigError(f'report folder {out_dir} exists and is not empty ({len(os.listdir(out_dir))} entries); '
                          f'choose a new folder, or overwrite it (--overwrite, write_report(overwrite=True))')


def git_commit(path=None):
    """The commit of the git checkout holding ``path`` (default: this package), with a note when files were
    changed; 'unknown' outside a git checkout or without git."""
    path = path or os.path.dirname(os.path.abspath(__file__))

    def git(*args):
        return subprocess.run(['git', '-C', path, *args], capture_output=True, text=True, timeout=20)

    try:
        head = git('rev-parse', 'HEAD')
        if head.returncode != 0:
            return 'unknown (not a git checkout)'
        changed = git('status', '--porcelain', '--untracked-files=no').stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown (git not available)'
    return head.stdout.strip()[:12] + (' (with uncommitted changes)' if changed else '')


def run_info(config=None, checkpoint=None, **extra):
    """The "run" table of a report: config, checkpoint, commit, version, date, then ``extra`` entries."""
    info = dict(config=config, checkpoint=checkpoint, commit=git_commit(), dformer_seg=__version__,
                date=datetime.datetime.now().strftime('%Y-%m-%d %H:%M'))
    info.update(extra)
    return {key: value for key, value in info.items() if value is not None}


# ---------------------------------------------------------------------- pictures
def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def _number(value):
    return 'n/a' if value is None or (isinstance(value, float) and np.isnan(value)) else f'{value:.2f}'


def plot_class_iou(iou, class_names, palette, path):
    """Horizontal bars of the IoU of every class (absent classes: no bar, 'absent')."""
    plt = _pyplot()
    count = len(class_names)
    fig, ax = plt.subplots(figsize=(7.0, max(2.2, 0.26 * count + 0.9)))
    values = np.nan_to_num(np.asarray(iou, dtype=np.float64), nan=0.0)
    colours = check_palette(palette) / 255.0
    positions = np.arange(count)[::-1]
    ax.barh(positions, values, color=colours[:count], edgecolor='#333333', linewidth=0.5)
    for position, value, raw in zip(positions, values, iou):
        ax.text(value + 1, position, 'absent' if np.isnan(raw) else f'{value:.1f}', va='center', fontsize=8)
    ax.set_yticks(positions)
    ax.set_yticklabels(class_names, fontsize=8)
    ax.set_xlim(0, 110)
    ax.set_xlabel('IoU (%)')
    _save(fig, path)


def plot_confusion(matrix, class_names, path):
    """The confusion matrix, each row in percent of the pixels labelled with its class."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(100.0 * matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    count = len(class_names)
    size = max(4.5, 0.3 * count + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(shown, cmap='Blues', vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='% of the pixels labelled with the row class')
    ax.set_xticks(range(count))
    ax.set_yticks(range(count))
    ax.set_xticklabels(class_names, rotation=45, ha='right', rotation_mode='anchor', fontsize=8)
    ax.set_yticklabels(class_names, fontsize=8)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    if count <= 20:
        for row in range(count):
            for column in range(count):
                ax.text(column, row, f'{shown[row, column]:.0f}', ha='center', va='center', fontsize=7,
                        color='white' if shown[row, column] > 50 else 'black')
    _save(fig, path)


def plot_depth_ranges(rows, path):
    """Bars of mIoU per depth range, with each range's share of the labelled pixels."""
    plt = _pyplot()
    total = sum(row['pixels'] for row in rows) or 1
    fig, ax = plt.subplots(figsize=(max(5.5, 0.9 * len(rows) + 1.5), 3.2))
    values = [0.0 if np.isnan(row['mIoU']) else row['mIoU'] for row in rows]
    positions = np.arange(len(rows))
    ax.bar(positions, values, color='#3b75af')
    for position, row, value in zip(positions, rows, values):
        share = f'{100.0 * row["pixels"] / total:.0f}%' if row['pixels'] else 'none'
        ax.text(position, value + 2, share, ha='center', fontsize=8)
    ax.set_xticks(positions)
    ax.set_xticklabels([row['name'] for row in rows], fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel('mIoU (%)')
    ax.set_xlabel('depth range (above each bar: its share of the labelled pixels)', fontsize=9)
    _save(fig, path)


def plot_robustness(robustness, path):
    """mIoU against severity, one line per corruption (severity 0 = clean), depth and RGB side by side."""
    plt = _pyplot()
    groups = [('depth', 'depth corruptions'), ('rgb', 'RGB corruptions'), ('both', 'depth + RGB')]
    groups = [(key, title) for key, title in groups
              if any(entry['modality'] == key for entry in robustness['corruptions'].values())]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 3.6), squeeze=False)
    severities = [0] + list(robustness['severities'])
    clean = robustness['clean']
    for ax, (key, title) in zip(axes[0], groups):
        for name, entry in robustness['corruptions'].items():
            if entry['modality'] == key:
                ax.plot(severities, [clean] + list(entry['scores']), marker='o', markersize=3, label=name)
        ax.axhline(clean, color='#888888', linestyle='--', linewidth=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(severities)
        ax.set_xticklabels(['clean'] + [str(s) for s in robustness['severities']])
        ax.set_xlabel('severity')
        ax.set_ylabel(robustness.get('metric', 'mIoU') + ' (%)')
        ax.set_ylim(0, max(5.0, clean * 1.15))
        ax.legend(fontsize=7, loc='lower left')
        ax.grid(alpha=0.3)
    _save(fig, path)


def error_map(image, label, pred, ignore_index=255):
    """The image in dim grey where the prediction is right, red where it is wrong, black where unlabelled."""
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = (grey.astype(np.float32) * 0.45).astype(np.uint8)
    out[(label != pred) & (label != ignore_index)] = _WRONG_BGR
    out[label == ignore_index] = 0
    return out


def worst_panels(worst, palette, ignore_index=255):
    """``{kind: BGR image}`` of the panels of one :class:`WorstImage`, all at the label's size."""
    height, width = worst.label.shape
    colours = check_palette(palette)[:, ::-1]  # the data sets' palettes are RGB

    def fit(picture):
        if picture.shape[:2] == (height, width):
            return picture
        return cv2.resize(picture, (width, height), interpolation=cv2.INTER_NEAREST)

    image = fit(np.asarray(worst.image))
    depth = fit(depth_to_colour(worst.depth)) if worst.depth is not None else np.full_like(image, 128)
    return dict(rgb=image, depth=depth, label=colorize(worst.label, colours, ignore_index=ignore_index),
                pred=colorize(worst.pred, colours), error=error_map(image, worst.label, worst.pred, ignore_index))


# ---------------------------------------------------------------------- the page
_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0; background: #f4f5f7;
       color: #1f2328; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 8px 0 2px; } h2 { font-size: 18px; margin: 0 0 10px; }
.subtitle { color: #57606a; margin-bottom: 16px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 18px; margin: 14px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 16px; min-width: 110px; }
.card .value { font-size: 26px; font-weight: 600; } .card .name { color: #57606a; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border-bottom: 1px solid #e5e7eb; padding: 3px 10px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.run td:first-child { color: #57606a; } .run td { word-break: break-all; }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
img.chart { max-width: 100%; border: 1px solid #eee; }
.worst { margin: 10px 0 16px; } .worst .title { font-weight: 600; margin-bottom: 4px; }
.panels { display: flex; flex-wrap: wrap; gap: 6px; }
figure { margin: 0; } figcaption { font-size: 12px; color: #57606a; text-align: center; }
figure img { width: 208px; image-rendering: pixelated; border: 1px solid #ccc; }
.bad { color: #b42318; } .note { color: #57606a; font-size: 13px; }
"""


def _e(value):
    return html.escape(str(value))


def _img(path, alt, css='chart'):
    return f'<img class="{css}" src="{_e(path)}" alt="{_e(alt)}">'


def _table(header, rows, numeric_from=1):
    head = ''.join(f'<th class="{"num" if i >= numeric_from else ""}">{_e(h)}</th>' for i, h in enumerate(header))
    body = ''.join('<tr>' + ''.join(f'<td class="{"num" if i >= numeric_from else ""}">{_e(c)}</td>'
                                    for i, c in enumerate(row)) + '</tr>' for row in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _summary_cards(results, robustness):
    summary = results['summary']
    cards = [(key, _number(summary.get(key))) for key in SUMMARY_KEYS if key in summary]
    cards.append(('images', str(results.get('num_samples', 'n/a'))))
    if robustness and robustness['corruptions']:
        means = [entry['mean'] for entry in robustness['corruptions'].values()]
        cards.append(('mean mIoU under corruption', _number(float(np.mean(means)))))
    return '<div class="cards">' + ''.join(
        f'<div class="card"><div class="value">{_e(v)}</div><div class="name">{_e(k)}</div></div>'
        for k, v in cards) + '</div>'


def _class_section(results, class_names, palette, images):
    plot_class_iou(results['iou'], class_names, palette, os.path.join(images, 'class_iou.png'))
    rows = [(name, _number(iou), _number(acc)) for name, iou, acc in zip(class_names, results['iou'], results['acc'])]
    return ('<section><h2>IoU per class</h2><div class="row">'
            + _img(f'{IMAGE_DIR}/class_iou.png', 'IoU per class') + _table(('class', 'IoU', 'Acc'), rows)
            + '</div></section>')


def _confusion_section(results, class_names, images):
    plot_confusion(results['matrix'], class_names, os.path.join(images, 'confusion_matrix.png'))
    return ('<section><h2>Confusion matrix</h2><p class="note">Rows: the labelled class; columns: the predicted '
            'class; each row in percent of its pixels, so the diagonal is the accuracy of each class.</p>'
            + _img(f'{IMAGE_DIR}/confusion_matrix.png', 'confusion matrix') + '</section>')


def _depth_section(depth_rows, images):
    if not depth_rows:
        return ('<section><h2>mIoU per depth range</h2><p class="note">Not computed: the evaluation had no depth '
                'ranges (IoUMetric depth_bins).</p></section>')
    plot_depth_ranges(depth_rows, os.path.join(images, 'depth_ranges.png'))
    total = sum(row['pixels'] for row in depth_rows) or 1
    rows = [(row['name'], row['pixels'], f'{100.0 * row["pixels"] / total:.1f}%', _number(row['aAcc']),
             _number(row['mIoU']), _number(row['mAcc'])) for row in depth_rows]
    return ('<section><h2>mIoU per depth range</h2><div class="row">'
            + _img(f'{IMAGE_DIR}/depth_ranges.png', 'mIoU per depth range')
            + _table(('depth', 'pixels', 'share', 'aAcc', 'mIoU', 'mAcc'), rows) + '</div></section>')


def _robustness_section(robustness, images):
    plot_robustness(robustness, os.path.join(images, 'robustness.png'))
    severities = list(robustness['severities'])
    clean = robustness['clean']
    rows = [('clean', '', *([''] * len(severities)), _number(clean), '100%')]
    for name, entry in robustness['corruptions'].items():
        rows.append((name, entry['modality'], *[_number(s) for s in entry['scores']], _number(entry['mean']),
                     f'{100.0 * entry["relative"]:.0f}%'))
    header = ('corruption', 'modality', *[f'sev {s}' for s in severities], 'mean', 'of clean')
    return ('<section><h2>Robustness to sensor corruptions</h2><p class="note">'
            f'{_e(robustness.get("metric", "mIoU"))} of the same checkpoint with each corruption applied to every '
            'test image (tools/analysis/robustness.py; docs/robustness.md describes the corruptions).</p>'
            + _img(f'{IMAGE_DIR}/robustness.png', 'robustness curves') + _table(header, rows, numeric_from=2)
            + '</section>')


def _worst_section(worst_images, palette, ignore_index, images):
    if not worst_images:
        return ''
    blocks = []
    for position, worst in enumerate(worst_images):
        figures = []
        for kind, caption in WORST_PANELS:
            name = f'worst_{position:02d}_{kind}.png'
            figures.append(f'<figure>{_img(f"{IMAGE_DIR}/{name}", caption, css="")}'
                           f'<figcaption>{_e(caption)}</figcaption></figure>')
        for kind, picture in worst_panels(worst, palette, ignore_index).items():
            write_image_file(os.path.join(images, f'worst_{position:02d}_{kind}.png'), picture)
        blocks.append(f'<div class="worst"><div class="title">{position + 1}. {_e(worst.name)}: mIoU '
                      f'<span class="bad">{_number(worst.miou)}</span></div>'
                      f'<div class="panels">{"".join(figures)}</div></div>')
    return ('<section><h2>The worst images</h2><p class="note">The test images with the lowest mIoU (over the '
            'classes in their label or prediction).</p>' + ''.join(blocks) + '</section>')


def write_report(out_dir, results, class_names, palette=None, info=None, depth_rows=None, worst_images=(),
                 robustness=None, title='Evaluation report', overwrite=False, ignore_index=255):
    """Write the report page ``out_dir/index.html`` and its pictures; returns the page's path.

    Args:
        results: ``IoUMetric.results`` (``summary``, per-class ``iou`` and ``acc``, ``matrix``, ``num_samples``).
        class_names / palette: the classes in label order and their RGB colours (None: a default palette).
        info: the "run" table (:func:`run_info`: config, checkpoint, commit, ...).
        depth_rows: ``IoUMetric.results['depth']`` (mIoU per depth range), or None.
        worst_images: :class:`WorstImage` s, worst first.
        robustness: the table of ``tools/analysis/robustness.py`` (``metric``, ``clean``, ``severities``,
            ``corruptions``: ``{name: dict(modality, scores, mean, relative)}``), or None.
        overwrite: write into a folder that already holds files (the old page and pictures are replaced).
    """
    check_report_dir(out_dir, overwrite)
    images = os.path.join(out_dir, IMAGE_DIR)
    if os.path.isdir(images):
        shutil.rmtree(images)
    os.makedirs(images)
    class_names = list(class_names)
    palette = palette if palette is not None else default_palette(len(class_names))
    info = info if info is not None else run_info()
    run_rows = ''.join(f'<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>' for k, v in info.items())
    subtitle = os.path.basename(str(info.get('config', ''))) or 'segmentation'
    sections = [
        f'<h1>{_e(title)}</h1><div class="subtitle">{_e(subtitle)}</div>',
        _summary_cards(results, robustness),
        f'<section><h2>Run</h2><table class="run">{run_rows}</table></section>',
        _class_section(results, class_names, palette, images),
        _confusion_section(results, class_names, images),
        _depth_section(depth_rows, images),
        _robustness_section(robustness, images) if robustness else '',
        _worst_section(list(worst_images), palette, ignore_index, images),
    ]
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_e(title)}: {_e(subtitle)}</title><style>{_STYLE}</style></head>\n'
            f'<body><main>\n' + '\n'.join(s for s in sections if s) + '\n</main></body></html>\n')
    path = os.path.join(out_dir, REPORT_FILE)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(page)
    return path
