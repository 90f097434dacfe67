"""sebook: the library of the Squeeze-and-Excitation book.

Each module holds one idea and says which chapter explains it: :mod:`sebook.squeeze`,
:mod:`sebook.excitation`, :mod:`sebook.recalibration` and :mod:`sebook.se` build the
block of Hu et al., *Squeeze-and-Excitation Networks* (CVPR 2018).
"""

from .attention import CBAMBlock, ECABlock
from .efficientnet_v2 import efficientnet_v2_s
from .excitation import Excitation, make_divisible, make_rd_channels
from .gather_excite import GatherExciteBlock
from .global_context import GlobalContextBlock
from .grn import GRN
from .mobilenet_v3 import mobilenet_v3_large
from .models import efficientnet_b0, resnet50, resnet101, se_resnet50, se_resnet101
from .recalibration import recalibrate, recalibrate_add
from .regnet import regnet_y_400mf
from .runtime import setup
from .se import SEBlock
from .selective_kernel import SelectiveKernel
from .squeeze import Squeeze

__version__ = "0.1.0"

__all__ = [
    "CBAMBlock",
    "ECABlock",
    "Excitation",
    "SEBlock",
    "Squeeze",
    "make_divisible",
    "make_rd_channels",
    "recalibrate",
    "recalibrate_add",
    "setup",
    "GRN",
    "GatherExciteBlock",
    "GlobalContextBlock",
    "SelectiveKernel",  # SE's family
    "resnet50",  # the networks, as torchvision names them
    "resnet101",
    "se_resnet50",
    "se_resnet101",
    "efficientnet_b0",
    "efficientnet_v2_s",
    "mobilenet_v3_large",
    "regnet_y_400mf",
]
