"""DFormer(keep_final_depth=True), used by the pretraining classifier, leaves the RGB features unchanged."""
import jittor as jt
import numpy as np

from dformer_seg.models.backbones import DFormer
from dformer_seg.utils.checkpoint import load_state_dict


def test_keeping_the_final_depth_output_changes_no_rgb_feature():
    settings = dict(arch='tiny', depths=[1, 1, 1, 1], drop_path_rate=0.0)
    plain, keeping = DFormer(**settings), DFormer(keep_final_depth=True, **settings)
    extra = set(keeping.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith('stages.3.0.') for k in extra)
    assert not set(plain.state_dict()) - set(keeping.state_dict())
    load_state_dict(keeping, {k: v.numpy() for k, v in plain.state_dict().items()}, strict=False)
    plain.eval(), keeping.eval()
    rng = np.random.default_rng(0)
    img = jt.array(rng.standard_normal((1, 3, 32, 32)).astype(np.float32))
    depth = jt.array(rng.standard_normal((1, 1, 32, 32)).astype(np.float32))
    outs, final_depth = keeping.execute_streams(img, depth)
    for ours, reference in zip(outs, plain(img, depth)):
        np.testing.assert_array_equal(ours.numpy(), reference.numpy())
    assert tuple(final_depth.shape) == (1, 128, 1, 1)
    assert plain.execute_streams(img, depth)[1] is None
