import os

import numpy as np

from dformer_seg.datasets import DEMO_CLS_CLASSES, RGBDClassificationDataset, render_object_view
from dformer_seg.datasets.demo_cls import generate_demo_cls_dataset


def test_generated_set_reads_as_an_imagenet_layout(tmp_path):
    out = str(tmp_path / 'demo_cls')
    summary = generate_demo_cls_dataset(out, seed=0, num_train_per_class=1, num_val_per_class=1, size=(32, 32))
    assert summary['classes'] == list(DEMO_CLS_CLASSES)
    dataset = RGBDClassificationDataset(os.path.join(out, 'images'), os.path.join(out, 'depth'), split='val')
    assert dataset.classes == tuple(sorted(DEMO_CLS_CLASSES)) and len(dataset) == 6


def test_views_are_deterministic_and_size_shows_in_depth():
    a = render_object_view(np.random.default_rng([0, 1]), 1, (32, 32))
    b = render_object_view(np.random.default_rng([0, 1]), 1, (32, 32))
    np.testing.assert_array_equal(a[0], b[0])
    # The object sits at the image centre: large objects are seen from farther away than small ones.
    centre_depth = {label: np.mean([render_object_view(np.random.default_rng([1, i]), label, (32, 32))[1][16, 16]
                                    for i in range(8)]) for label in (0, 1)}
    assert centre_depth[1] > 1.5 * centre_depth[0]
