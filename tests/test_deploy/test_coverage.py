"""Every computing op and module class of dformer_seg.ops, and every registered head, has an ONNX form."""
from dformer_seg import ops
from dformer_seg.deploy import OP_EMITTERS
from dformer_seg.deploy.modules import MODULE_EMITTERS, is_traceable
from dformer_seg.deploy.tracer import OPS_WITHOUT_EMITTER
from dformer_seg.registry import BACKBONES, HEADS


def test_every_public_op_has_an_emitter():
    functions = {name for name in ops.__all__ if not isinstance(getattr(ops, name), type)} - OPS_WITHOUT_EMITTER
    assert functions == set(OP_EMITTERS)
    classes = {getattr(ops, name) for name in ops.__all__ if isinstance(getattr(ops, name), type)}
    assert classes <= set(MODULE_EMITTERS)


def test_every_backbone_and_head_of_the_toolbox_is_traceable():
    registered = set(BACKBONES.module_dict.values()) | set(HEADS.module_dict.values())
    own = {cls for cls in registered if cls.__module__.startswith('dformer_seg.')}  # not those of projects/tests
    assert len(own) >= 8 and all(is_traceable(cls) for cls in own)


def test_traceability_is_declared_by_the_class_itself():
    from jittor import nn

    from dformer_seg.models.decode_heads.fcn_head import FCNHead

    class Outside(nn.Module):
        pass

    class Declared(nn.Module):
        onnx_traceable = True

    class OptedOut(FCNHead):
        onnx_traceable = False

    class ChangedExecute(Declared):  # does not inherit the declaration
        pass

    assert is_traceable(FCNHead) and is_traceable(Declared)
    assert not is_traceable(Outside) and not is_traceable(OptedOut) and not is_traceable(ChangedExecute)
