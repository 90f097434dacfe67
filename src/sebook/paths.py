"""The ways PyTorch can run a module, each tried on one and compared with plain eager mode.

:data:`PATHS` names them: eager, ``torch.autocast`` (bfloat16 on the CPU), the
``channels_last`` memory format, ``torch.compile(fullgraph=True)``, ``torch.export``,
ONNX (exported with ``torch.onnx.export(dynamo=True)`` and run by ONNX Runtime),
TorchScript (``torch.jit.script``, saved and loaded back) and ``torch.jit.trace``.
:func:`try_paths` runs a module down each and says which give eager's output; the API
page's table "Which paths work" is its result for every block and network of the library
(written by ``tools/paths_table.py``, checked by ``tests/test_paths.py``).
"""

from __future__ import annotations

import copy
import io
import tempfile
from pathlib import Path

import torch
from torch import nn

from . import checks

PATHS = (
    "eager",
    "autocast",
    "channels_last",
    "compile",
    "export",
    "onnx",
    "script",
    "trace",
)
"""The paths :func:`try_paths` tries, in the order of the API page's table."""

TOLERANCE = {"autocast": 5e-2}
"""Largest difference from eager allowed, relative to eager's largest output (default
1e-4). bfloat16 keeps 8 bits of mantissa, so autocast gets 5e-2."""

NOT_APPLICABLE = "n/a: channels_last is a layout of 4-D tensors"
"""What :func:`try_paths` says of channels_last for an input that is not (B, C, H, W)."""


def _autocast(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast(x.device.type, dtype=torch.bfloat16):
        return module(x).float()


def _channels_last(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    module = module.to(memory_format=torch.channels_last)
    return module(x.contiguous(memory_format=torch.channels_last))


def _compile(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    torch._dynamo.reset()  # a fresh compilation, not one cached for another module
    return torch.compile(module, fullgraph=True)(x)


def _export(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.export.export(module, (x,)).module()(x)


def _onnx(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    import onnxruntime  # an optional dependency: pip install onnx onnxscript onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "module.onnx"
        torch.onnx.export(module, (x,), dynamo=True, verbose=False).save(str(path))
        session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"]
        )
        (output,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(output)


def _script(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)  # saved and loaded, as deployed
    buffer.seek(0)
    return torch.jit.load(buffer)(x)


def _trace(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.jit.trace(module, x)(x)


_RUN = {
    "eager": lambda module, x: module(x),
    "autocast": _autocast,
    "channels_last": _channels_last,
    "compile": _compile,
    "export": _export,
    "onnx": _onnx,
    "script": _script,
    "trace": _trace,
}


def run_path(path: str, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``module`` (in eval mode, without gradients) on ``x`` down ``path``."""
    path = checks.one_of("path", path, PATHS)
    with torch.no_grad():
        return _RUN[path](module.eval(), x)


def try_paths(
    module: nn.Module, x: torch.Tensor, paths: tuple[str, ...] = PATHS
) -> dict[str, str]:
    """Say, for each of ``paths``, whether ``module`` gives eager's output on ``x``.

    Each path runs a copy of ``module`` (channels_last converts the weights it is given).
    Returns ``{path: "ok"}`` or ``{path: "fails: <why>"}``, the reason being the
    exception raised or the difference from eager (:data:`NOT_APPLICABLE` for
    channels_last when ``x`` is not 4-D).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"module must be a torch.nn.Module, got {type(module).__name__}"
        )
    for path in paths:
        checks.one_of("paths", path, PATHS)
    expected = run_path("eager", copy.deepcopy(module), x)
    scale = max(1.0, expected.abs().max().item())
    results = {}
    for path in paths:
        if path == "channels_last" and x.dim() != 4:
            results[path] = NOT_APPLICABLE
            continue
        try:
            output = run_path(path, copy.deepcopy(module), x)
        except Exception as error:  # the table records why a path fails
            results[path] = (
                f"fails: {type(error).__name__}: {str(error).splitlines()[0]}"
            )
            continue
        difference = (output.float() - expected).abs().max().item() / scale
        allowed = TOLERANCE.get(path, 1e-4)
        results[path] = (
            "ok"
            if output.shape == expected.shape and difference <= allowed
            else f"fails: differs from eager by {difference:.1e} (allowed {allowed:.0e})"
        )
    return results


def library_modules() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    """Every public block and network of ``sebook`` with an input shape it takes.

    Seeded, so each call builds the same weights: the subjects of the API page's table.
    """
    from . import (
        attention,
        blocks,
        efficientnet_v2,
        fashion_models,
        mobilenet_v3,
        models,
        regnet,
    )
    from .excitation import Excitation
    from .gather_excite import GatherExciteBlock
    from .global_context import GlobalContextBlock
    from .grn import GRN
    from .se import SEBlock
    from .selective_kernel import SelectiveKernel
    from .squeeze import Squeeze

    block = (2, 32, 8, 8)
    image = (1, 3, 64, 64)
    builds = {
        "Squeeze": (Squeeze, block),
        "Excitation": (lambda: Excitation(32), (2, 32)),
        "SEBlock": (lambda: SEBlock(32), block),
        "ECABlock": (lambda: attention.ECABlock(32), block),
        "CBAMBlock": (lambda: attention.CBAMBlock(32), block),
        "NoSqueezeBlock": (lambda: attention.NoSqueezeBlock(32), block),
        "AdditiveSEBlock": (lambda: attention.AdditiveSEBlock(32), block),
        "GatherExciteBlock": (lambda: GatherExciteBlock(32), block),
        "GlobalContextBlock": (lambda: GlobalContextBlock(32), block),
        "GRN": (lambda: GRN(32), block),
        "SelectiveKernel": (lambda: SelectiveKernel(32, 32), block),
        "MBConv": (lambda: blocks.MBConv(32, 32), block),
        "FashionNet": (fashion_models.FashionNet, (2, 1, 28, 28)),
        "se_resnet50": (lambda: models.se_resnet50(num_classes=10), image),
        "efficientnet_b0": (lambda: models.efficientnet_b0(num_classes=10), image),
        "mobilenet_v3_large": (
            lambda: mobilenet_v3.mobilenet_v3_large(num_classes=10),
            image,
        ),
        "regnet_y_400mf": (lambda: regnet.regnet_y_400mf(num_classes=10), image),
        "efficientnet_v2_s": (
            lambda: efficientnet_v2.efficientnet_v2_s(num_classes=10),
            image,
        ),
    }
    subjects = {}
    for name, (build, shape) in builds.items():
        torch.manual_seed(0)
        subjects[name] = (build().eval(), shape)
    return subjects

NETWORKS = (
    "se_resnet50",
    "efficientnet_b0",
    "mobilenet_v3_large",
    "regnet_y_400mf",
    "efficientnet_v2_s",
)
"""The ImageNet-scale networks among :func:`library_modules`."""

SLOW = frozenset(f"{name}/compile" for name in NETWORKS)
"""Results the test suite takes from ``tests/data/paths.json`` without re-running them.

Compiling each ImageNet-scale network takes 25-50 s of CPU."""
