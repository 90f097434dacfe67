"""sebook: the library of the Squeeze-and-Excitation book.

Each module holds one idea and says which chapter explains it: :mod:`sebook.squeeze`,
:mod:`sebook.excitation`, :mod:`sebook.recalibration` and :mod:`sebook.se` build the
block of Hu et al., *Squeeze-and-Excitation Networks* (CVPR 2018).
"""

from .attention import CBAMBlock, ECABlock
from .excitation import Excitation, make_divisible, make_rd_channels
from .gather_excite import GatherExciteBlock
from .global_context import GlobalContextBlock
from .grn import GRN
from .recalibration import recalibrate, recalibrate_add
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
]
