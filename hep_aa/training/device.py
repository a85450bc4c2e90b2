"""Device resolution: ``"auto"`` is CUDA when available, else CPU; never hard-coded."""

from __future__ import annotations

import re

import torch

from hep_aa.exceptions import ConfigError

__all__ = ["resolve_device"]

_SPEC = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a :class:`torch.device`.

    Raises
    ------
    ConfigError
        For a malformed spec, or a CUDA device asked for where none is available.
    """
    if isinstance(spec, torch.device):
        return spec
    if not _SPEC.match(spec):
        raise ConfigError(f"device: {spec!r} is not one of auto, cpu, cuda, cuda:N")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device: {spec!r} requested but CUDA is not available; use 'auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device: {spec!r} but only {torch.cuda.device_count()} CUDA device(s) exist")
    return dev
