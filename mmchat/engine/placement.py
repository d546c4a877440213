"""Where a loaded model's weights really are, and in what form; and where one is to go.

The status line and `ModelInfo` report this, read from the parameters and modules themselves,
rather than what was asked for: a request for 4-bit on a GPU that a model path cannot honour
must not show as "cuda 4bit" while the weights sit in fp32 on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# bitsandbytes' linear layers, by what the status line calls them. Class names rather than
# imports: bitsandbytes comes only with the cuda extra.
_BITSANDBYTES_LINEARS = {"Linear4bit": "4bit", "Linear8bitLt": "8bit"}
_DTYPE_NAMES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}


def device_of(model: torch.nn.Module) -> str:
    """ "cpu", "cuda:0", or "cuda:0+cpu" when accelerate split the model across devices."""
    devices: list[str] = []
    for tensor in [*model.parameters(), *model.buffers()]:
        name = str(tensor.device)
        if name != "meta" and name not in devices:
            devices.append(name)
    if not devices:
        return "cpu"
    return "+".join(sorted(devices, key=lambda name: (name == "cpu", name)))


def weight_form(model: torch.nn.Module) -> str:
    """ "4bit" or "8bit" (bitsandbytes), "int8" (torch dynamic int8), else the float dtype of
    most parameters ("fp32", "fp16", "bf16")."""
    for module in model.modules():
        kind = type(module).__name__
        package = type(module).__module__
        if kind in _BITSANDBYTES_LINEARS and package.startswith("bitsandbytes"):
            return _BITSANDBYTES_LINEARS[kind]
        if ".quantized" in package and "Linear" in kind:  # torch.ao's dynamic int8 Linear
            return "int8"
    counts: dict[str, int] = {}
    for parameter in model.parameters():
        if parameter.is_floating_point():
            name = str(parameter.dtype).removeprefix("torch.")
            counts[name] = counts.get(name, 0) + parameter.numel()
    if not counts:
        return "fp32"
    dtype = max(counts, key=lambda name: counts[name])
    return _DTYPE_NAMES.get(dtype, dtype)


@dataclass(frozen=True)
class Target:
    """Where a model is to be loaded: a device, the float dtype its weights take there, and an
    optional bitsandbytes config (transformers' BitsAndBytesConfig) for its decoder's linears."""

    device: str = "cpu"
    dtype: torch.dtype | None = None  # None: fp32
    quantization: Any = None

    @property
    def float_dtype(self) -> torch.dtype:
        import torch

        return self.dtype or torch.float32

    def load_kwargs(self) -> dict[str, Any]:
        """`from_pretrained` arguments that load straight into this form."""
        kwargs: dict[str, Any] = {"dtype": self.float_dtype}
        if self.quantization is not None:
            kwargs["quantization_config"] = self.quantization
            kwargs["device_map"] = {"": self.device}
        return kwargs


def gpu_target(quantization: Any = None) -> Target:
    """The first CUDA device, in bf16 where it runs bf16 (Ampere and later), else fp16."""
    import torch

    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return Target("cuda:0", dtype, quantization)
