"""CICIDS2017 network-flow CSVs (CICFlowMeter): MachineLearningCVE and GeneratedLabelledFlows.

Quirks handled (they are the format):

- header names with and without a leading space (``" Destination Port"``, ``"Flow Bytes/s"``):
  stripped;
- ``Fwd Header Length`` appears twice (identical values): the second copy is dropped;
- ``Flow Bytes/s`` and ``Flow Packets/s`` contain ``Infinity`` and empty/NaN: such rows are
  dropped and counted (:attr:`CicidsTable.n_dropped_nonfinite`);
- ``Init_Win_bytes_forward/backward`` use −1 for "not seen": kept as −1 (after the signed-log
  robust scaling recommended for these heavy tails it is a distinct value, −0.69);
- the Web Attack labels contain the cp1252 byte 0x96 (en dash), invalid UTF-8: files are
  decoded as cp1252 and labels normalised to ``"Web Attack - Brute Force"`` etc.;
- GeneratedLabelledFlows adds ``Flow ID, Source IP, Source Port, Destination IP, Protocol,
  Timestamp``: identifiers are dropped, so both variants give the same 77 numeric features
  (78 columns minus the duplicate).

Labels are normalised to attack families (``BENIGN``, DoS, DDoS, PortScan, Bot, Web Attack,
Brute Force, Infiltration, Heartbleed) with the original label kept.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = ["FAMILIES", "CicidsTable", "family_of", "iter_cicids", "normalise_label", "read_cicids"]

log = logging.getLogger(__name__)

FAMILIES = ("DoS", "DDoS", "PortScan", "Bot", "Web Attack", "Brute Force", "Infiltration", "Heartbleed")
IDENTIFIERS = ("Flow ID", "Source IP", "Source Port", "Destination IP", "Protocol", "Timestamp")
LABEL = "Label"


def normalise_label(label: str) -> str:
    """Clean one raw label: cp1252 en dash / replacement characters to '-', spaces collapsed."""
    text = str(label).replace("\u2013", "-").replace("\ufffd", "-").replace("\x96", "-")
    text = re.sub(r"\s*-\s*", " - ", text)
    return re.sub(r"\s+", " ", text).strip()


def family_of(label: str) -> str:
    """Attack family of a normalised label (``BENIGN`` for benign traffic)."""
    low = label.lower()
    if low == "benign":
        return "BENIGN"
    if low.startswith("ddos"):
        return "DDoS"
    if low.startswith("dos"):
        return "DoS"
    if low.startswith("portscan"):
        return "PortScan"
    if low.startswith("bot"):
        return "Bot"
    if low.startswith("web attack"):
        return "Web Attack"
    if "patator" in low:
        return "Brute Force"
    if low.startswith("infilt"):
        return "Infiltration"
    if low.startswith("heartbleed"):
        return "Heartbleed"
    raise DataFormatError(f"unknown CICIDS2017 label {label!r}")


@dataclass(frozen=True)
class CicidsTable:
    """Numeric flow features with labels.

    Attributes
    ----------
    features : ndarray of shape (n_flows, n_features), float64
    feature_names : tuple of str
    labels : ndarray of str, the normalised original labels
    families : ndarray of str
    n_dropped_nonfinite : int
        Rows dropped for Infinity/NaN values.
    """

    features: np.ndarray
    feature_names: tuple[str, ...]
    labels: np.ndarray
    families: np.ndarray
    n_dropped_nonfinite: int


def _files(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files += sorted(p.glob("*.csv"))
        elif p.is_file():
            files.append(p)
        else:
            raise DataFormatError(f"{p}: no such CSV file or folder")
    if not files:
        raise DataFormatError(f"{source}: no *.csv files found; point to the MachineLearningCVE folder")
    return files


def iter_cicids(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, chunk_size: int = 200_000
) -> Iterator[CicidsTable]:
    """Stream CICIDS2017 CSV files (a folder, a file or a list) in chunks of rows."""
    import pandas as pd

    reference: tuple[str, ...] | None = None
    for path in _files(source):
        try:
            with pd.read_csv(
                path,
                chunksize=chunk_size,
                encoding="cp1252",
                encoding_errors="replace",
                low_memory=False,
                skipinitialspace=True,
            ) as reader:
                for chunk in reader:
                    chunk.columns = [str(c).strip() for c in chunk.columns]
                    if LABEL not in chunk.columns:
                        raise DataFormatError(
                            f"{path}: no 'Label' column; columns start with {list(chunk.columns[:5])}"
                        )
                    drop = [c for c in chunk.columns if c in IDENTIFIERS or re.fullmatch(r".+\.\d+", c)]
                    chunk = chunk.drop(columns=drop)
                    labels_raw = chunk.pop(LABEL).astype(str)
                    names = tuple(chunk.columns)
                    if reference is None:
                        reference = names
                    elif names != reference:
                        raise DataFormatError(
                            f"{path}: feature columns differ from the first file's; mixed CICIDS variants?"
                        )
                    values = chunk.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
                    finite = np.all(np.isfinite(values), axis=1)
                    labels = np.array([normalise_label(x) for x in labels_raw], dtype=object)
                    keep = finite & (labels != "nan")
                    families = np.array([family_of(x) for x in labels[keep]], dtype=object)
                    yield CicidsTable(values[keep], names, labels[keep], families, int((~keep).sum()))
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{path}: not a readable CICIDS2017 CSV ({exc})") from None
        except pd.errors.EmptyDataError:
            raise DataFormatError(f"{path}: the file is empty") from None


def read_cicids(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, chunk_size: int = 200_000
) -> CicidsTable:
    """Read every row of the CSV files into one :class:`CicidsTable`."""
    parts = list(iter_cicids(source, chunk_size=chunk_size))
    dropped = sum(p.n_dropped_nonfinite for p in parts)
    if dropped:
        log.info("dropped %d flow(s) with Infinity/NaN features", dropped)
    return CicidsTable(
        np.vstack([p.features for p in parts]),
        parts[0].feature_names,
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.families for p in parts]),
        dropped,
    )
