"""Shared by the library tests and nbval: the test header names the vector kernels the run uses.

The stored notebook outputs must not depend on them; ``make test`` runs nbval once on this CPU's own kernels and
once on the most portable ones (see ``PORTABLE_KERNELS`` in the Makefile).
"""

import os

KERNEL_SETTINGS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def pytest_report_header(config):
    import torch

    chosen = ", ".join(f"{k}={os.environ[k]}" for k in KERNEL_SETTINGS if k in os.environ)
    return (
        f"torch {torch.__version__}, CPU kernels: {torch.backends.cpu.get_cpu_capability()}"
        f" ({chosen or 'this CPU’s own choice'})"
    )
