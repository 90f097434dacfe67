"""What a network costs: parameters, FLOPs, elementwise operations and memory traffic.

Each is given in total and per part.

FLOPs come from ``torch.utils.flop_counter`` (1 MAC = 2 FLOPs); the elementwise work of
SE's squeeze and recalibration, which that counter leaves out, is counted from the
shapes that really flow (forward hooks). Used from "Excitation" on; explained in
"SE-ResNet", "MBConv" and "What SE costs".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .runtime import inference
from .se import ChannelAttention, SEBlock


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (elements) of ``module``."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    return sum(
        p.numel() for p in module.parameters() if p.requires_grad or not trainable_only
    )


def count_flops(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass on a zero tensor of ``input_shape`` (1 MAC = 2 FLOPs).

    Counted with ``torch.utils.flop_counter``.

    The counter covers matrix products and convolutions; elementwise work (activations,
    the recalibration product, pooling) counts 0, which is why "What SE costs" measures time as
    well.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    if not input_shape or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape
    ):
        raise ValueError(
            f"input_shape must be a tuple of positive integers, got {input_shape!r}"
        )
    param = next(module.parameters(), None)
    x = torch.zeros(
        input_shape,
        dtype=param.dtype if param is not None else torch.float32,
        device=param.device if param is not None else "cpu",
    )
    with inference(module), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def parameters_by_child(module: nn.Module) -> dict[str, int]:
    """Parameters of each direct child of ``module``, by the child's name.

    For example a ResNet's ``layer1`` .. ``layer4``.

    Used in "SE-ResNet" (where SE's parameters go, stage by stage) and "MBConv" (the
    parts of one block).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    return {name: count_parameters(child) for name, child in module.named_children()}


def attention_parameters(model: nn.Module) -> int:
    """Parameters in the SE, ECA or CBAM blocks of ``model`` (0 without attention)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(
        count_parameters(m) for m in model.modules() if isinstance(m, ChannelAttention)
    )


def zeros_input(module: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """A zero tensor of ``input_shape`` with the dtype and device of ``module``."""
    if not input_shape or any(
        isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape
    ):
        raise ValueError(
            f"input_shape must be a tuple of positive integers, got {input_shape!r}"
        )
    param = next(module.parameters(), None)
    return torch.zeros(
        input_shape,
        dtype=param.dtype if param is not None else torch.float32,
        device=param.device if param is not None else "cpu",
    )


def run_with_hooks(
    module: nn.Module,
    x: torch.Tensor,
    pre: Callable[[str], object],
    post: Callable[[str, tuple, object], object],
    targets: Iterable[tuple[str, nn.Module]],
) -> None:
    """Run ``module(x)`` with hooks on every ``(name, submodule)`` of ``targets``.

    The run is under :func:`~sebook.runtime.inference`, with ``pre(name)`` and
    ``post(name, inputs, output)`` hooked; the hooks are removed afterwards.
    """
    handles = []
    for name, sub in targets:
        handles.append(sub.register_forward_pre_hook(lambda _m, _i, key=name: pre(key)))
        handles.append(
            sub.register_forward_hook(
                lambda _m, inputs, out, key=name: post(key, inputs, out)
            )
        )
    try:
        with inference(module):
            module(x)
    finally:
        for handle in handles:
            handle.remove()


def count_flops_by_child(
    module: nn.Module, input_shape: tuple[int, ...]
) -> dict[str, int]:
    """FLOPs (1 MAC = 2 FLOPs, as :func:`count_flops`) inside each child of ``module``.

    Children that are not called in the forward pass are left out. Used in "MBConv" for
    the parts of a block.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    x = zeros_input(module, input_shape)
    flops: dict[str, int] = {}
    start: dict[str, int] = {}
    with FlopCounterMode(display=False) as counter:
        run_with_hooks(
            module,
            x,
            lambda key: start.__setitem__(key, counter.get_total_flops()),
            lambda key, _i, _o: flops.__setitem__(
                key, flops.get(key, 0) + counter.get_total_flops() - start[key]
            ),
            list(module.named_children()),
        )
    return {name: int(v) for name, v in flops.items()}


def output_shapes(
    module: nn.Module, input_shape: tuple[int, ...]
) -> dict[str, tuple[int, ...]]:
    """The output shape of each direct child of ``module``, in call order.

    The input has shape ``input_shape``.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    shapes: dict[str, tuple[int, ...]] = {}
    run_with_hooks(
        module,
        zeros_input(module, input_shape),
        lambda key: None,
        lambda key, _i, out: shapes.__setitem__(key, tuple(out.shape)),
        list(module.named_children()),
    )
    return shapes


def attention_elementwise_ops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Operations of SE's squeeze and recalibration, for one forward pass.

    :func:`count_flops` does not count them.

    Per attention block on a (B, C, H, W) input: B·C·H·W additions for the global
    average (the squeeze) and B·C·H·W multiplications for the recalibration, so
    ``2·B·C·H·W``. The paper's "GFLOPs" include them. Used in "SE-ResNet" and
    "What SE costs".
    """
    return 2 * sum(numel for numel, _ in attention_inputs(model, input_shape))


def attention_inputs(
    model: nn.Module, input_shape: tuple[int, ...]
) -> list[tuple[int, int]]:
    """(values, bytes per value) of each SE, ECA or CBAM block's input in ``model``.

    Counted for one forward pass.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    targets = [
        (n, m) for n, m in model.named_modules() if isinstance(m, ChannelAttention)
    ]
    if not targets:
        raise ValueError("model contains no SE, ECA or CBAM block")
    sizes: list[tuple[int, int]] = []
    run_with_hooks(
        model,
        zeros_input(model, input_shape),
        lambda key: None,
        lambda key, inputs, _o: sizes.append(
            (inputs[0].numel(), inputs[0].element_size())
        ),
        targets,
    )
    return sizes


def recalibration_traffic(
    model: nn.Module, input_shape: tuple[int, ...]
) -> dict[str, int]:
    """Bytes of feature map that SE's squeeze and recalibration move, per forward.

    Counted on top of the residual addition.

    For an attention block on an input of n values of e bytes each: the squeeze reads
    the map once (n·e); the naive recalibration reads it again and writes a scaled copy
    (2·n·e), which the addition then reads in place of the branch output; the fused
    ``torch.addcmul`` reads branch and shortcut and writes the sum, the traffic of the
    plain addition. So SE adds 3·n·e bytes in the naive form and n·e in the fused
    one, if nothing stays in cache. Returns
    ``{"one_pass": Σ n·e, "naive": 3·Σ n·e, "fused": Σ n·e}`` in bytes. Used in
    "What SE costs".
    """
    one_pass = sum(numel * size for numel, size in attention_inputs(model, input_shape))
    return {"one_pass": one_pass, "naive": 3 * one_pass, "fused": one_pass}


def se_costs(
    channels: int, reduction: float, spatial: tuple[int, int] = (7, 7)
) -> dict[str, int]:
    """Cost of one ``SEBlock(channels, reduction)`` on a (1, C, H, W) map.

    The map has ``spatial`` size.

    Returns the bottleneck ``width``, the ``params``, the ``flops`` of the two FC layers
    (1 MAC = 2 FLOPs, as :func:`count_flops`) and the ``elementwise`` operations of
    squeeze and scale (:func:`attention_elementwise_ops`). Used by the reduction-ratio
    slider of "Excitation".
    """
    if not (isinstance(spatial, tuple) and len(spatial) == 2):
        raise ValueError(f"spatial must be a (height, width) tuple, got {spatial!r}")
    block = SEBlock(channels, reduction)
    shape = (1, block.channels, *spatial)
    return {
        "width": block.excitation.rd_channels,
        "params": count_parameters(block),
        "flops": count_flops(block, shape),
        "elementwise": attention_elementwise_ops(block, shape),
    }


def saved_activation_bytes(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Bytes of the tensors a training forward pass keeps for the backward pass.

    Measured, not estimated: every tensor autograd saves is counted once per storage
    (a ReLU's output that the next convolution also saves counts once), on zeros of
    ``input_shape`` in train mode. The input itself is included; BatchNorm's running
    statistics, which autograd saves too, are not (the model holds them anyway). The
    weights, their gradients and the optimizer's state come on top, as do the
    allocator's and the convolution libraries' workspaces on a GPU.
    """
    storages: dict[int, int] = {}

    def keep(t: torch.Tensor) -> torch.Tensor:
        if isinstance(t, torch.Tensor) and not isinstance(t, nn.Parameter):
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    was_training = module.training
    buffers = [
        b.clone() for b in module.buffers()
    ]  # BatchNorm's statistics stay as they were
    module.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            module(zeros_input(module, input_shape))
    finally:
        module.train(was_training)
        with torch.no_grad():
            for buffer, value in zip(module.buffers(), buffers):
                buffer.copy_(value)
    state = [*module.parameters(), *module.buffers()]  # weights and running statistics
    held = {t.untyped_storage().data_ptr() for t in state}
    return sum(n for ptr, n in storages.items() if ptr not in held)
