from .decode_head import BaseDecodeHead
from .deeplabv3plus_head import DeepLabV3Plus
from .fcn_head import FCNHead
from .ham_head import LightHamHead
from .mlp_decoder import MLPDecoder
from .nl_head import NLHead
from .uper_head import UPerHead

__all__ = ['BaseDecodeHead', 'DeepLabV3Plus', 'FCNHead', 'LightHamHead', 'MLPDecoder', 'NLHead', 'UPerHead']
