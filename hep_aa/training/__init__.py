"""Training loops and their pieces: schedules, synthetic anomalies, scaling, devices.

The loops are explicit (no Lightning) and batch from tensors already on the device.
Stage 1 (:func:`pretrain`) fits a VAE on background only with early stopping; stage 2
(:func:`finetune`) is Anomaly Awareness, arXiv:2504.11520.
"""

from __future__ import annotations

from hep_aa.training.device import resolve_device
from hep_aa.training.loops import (
    TrainingDivergenceWarning,
    anomaly_objective,
    finetune,
    pretrain,
    train_classifier,
)
from hep_aa.training.scaling import Scaler
from hep_aa.training.schedules import lambda_schedule
from hep_aa.training.synthetic import synthetic_box, uniform_synthetic

__all__ = [
    "Scaler",
    "TrainingDivergenceWarning",
    "anomaly_objective",
    "finetune",
    "lambda_schedule",
    "pretrain",
    "resolve_device",
    "synthetic_box",
    "train_classifier",
    "uniform_synthetic",
]
