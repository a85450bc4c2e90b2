"""CICIDS2017 network-flow CSVs (CICFlowMeter): MachineLearningCVE, GeneratedLabelledFlows and
the improved CICIDS2017 of Engelen, Rimmer and Joosen (2021).

The layout is detected from each file's header.

Original layouts — quirks handled (they are the format):

- header names with and without a leading space (``" Destination Port"``, ``"Flow Bytes/s"``):
  stripped;
- ``Fwd Header Length`` appears twice (identical values): the second copy is dropped;
- ``Flow Bytes/s`` and ``Flow Packets/s`` contain ``Infinity`` and empty/NaN: such rows are
  dropped and counted (:attr:`CicidsTable.n_dropped_nonfinite`); completely empty lines (the
  Thursday file ends with many) are dropped too. Any other text in a numeric column is an
  error naming the file, column and line;
- ``Init_Win_bytes_forward/backward`` use −1 for "not seen": kept as −1 (after the signed-log
  robust scaling recommended for these heavy tails it is a distinct value, −0.69);
- the Web Attack labels contain the cp1252 byte 0x96 (en dash), invalid UTF-8: files are
  decoded as cp1252 and labels normalised to ``"Web Attack - Brute Force"`` etc.;
- GeneratedLabelledFlows adds ``Flow ID, Source IP, Source Port, Destination IP, Protocol,
  Timestamp``: identifiers are dropped, so both variants give the same 77 numeric features
  (78 columns minus the duplicate).

Improved CICIDS2017 (flows re-extracted with a fixed CICFlowMeter and relabelled): no leading
spaces, about 91 columns ``id, Flow ID, Src IP, Src Port, Dst IP, Dst Port, Protocol,
Timestamp, Flow Duration, ..., ICMP Code, ICMP Type, Total TCP Flow Time, Label, Attempted
Category``. Identifiers (``id``, flow id, IPs, source port, protocol, timestamp) are dropped;
``Dst Port`` stays a feature as ``Destination Port`` does in the original. Labels read
``Portscan``, ``Botnet``, ``Web Attack - Brute Force``, ``Infiltration - Portscan`` ... and map
to the same families as the original's. ``Attempted Category`` is −1 for ordinary flows and
≥ 0 for flows of an attack that carry no attack payload (their labels end in ``- Attempted``):
by default they count as benign (``attempted="benign"``); ``attempted="drop"`` removes them.
The feature names differ from the original layout's, so the layouts cannot be mixed in one
table.

Labels are normalised to attack families (``BENIGN``, DoS, DDoS, PortScan, Bot, Web Attack,
Brute Force, Infiltration, Heartbleed) with the original label kept.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = [
    "FAMILIES",
    "CicidsTable",
    "detect_layout",
    "family_of",
    "iter_cicids",
    "normalise_label",
    "read_cicids",
]

log = logging.getLogger(__name__)

FAMILIES = ("DoS", "DDoS", "PortScan", "Bot", "Web Attack", "Brute Force", "Infiltration", "Heartbleed")
IDENTIFIERS = ("Flow ID", "Source IP", "Source Port", "Destination IP", "Protocol", "Timestamp")
IMPROVED_IDENTIFIERS = ("id", "Flow ID", "Src IP", "Src Port", "Dst IP", "Protocol", "Timestamp")
LABEL = "Label"
ATTEMPTED = "Attempted Category"


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
        Attack family; ``"BENIGN"`` also for attempted flows kept as benign.
    n_dropped_nonfinite : int
        Rows dropped for Infinity/NaN values (and completely empty lines).
    n_attempted : int
        Attempted flows (improved layout) counted as benign or, with ``attempted="drop"``,
        dropped.
    layout : str
        ``"original"``, ``"generated"`` (GeneratedLabelledFlows) or ``"improved"``.
    nonfinite_columns : dict of str to int
        Rows with Infinity/NaN per column (the reason for ``n_dropped_nonfinite``).
    """

    features: np.ndarray
    feature_names: tuple[str, ...]
    labels: np.ndarray
    families: np.ndarray
    n_dropped_nonfinite: int
    n_attempted: int = 0
    layout: str = "original"
    nonfinite_columns: dict[str, int] = field(default_factory=dict)


def detect_layout(columns: Sequence[str]) -> str:
    """``"improved"`` (Engelen et al.), ``"generated"`` or ``"original"`` from stripped column names."""
    cols = set(columns)
    if ATTEMPTED in cols or {"Src IP", "Dst Port"} <= cols:
        return "improved"
    if "Source IP" in cols:
        return "generated"
    return "original"


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
        raise DataFormatError(
            f"{source}: no *.csv files found; point to the MachineLearningCVE or improved CICIDS2017 folder"
        )
    return files


_NONFINITE_TEXT = {"", "nan", "infinity", "-infinity", "+infinity", "inf", "-inf", "+inf"}


def _numeric(path: Path, chunk: Any, first_line: int) -> np.ndarray:
    """The chunk as float64; Infinity/NaN/empty become non-finite, any other text is an error."""
    import pandas as pd

    columns = []
    for name in chunk.columns:
        raw = chunk[name]
        if raw.dtype.kind in "biuf":
            columns.append(raw.to_numpy(dtype=np.float64))
            continue
        values = pd.to_numeric(raw, errors="coerce")
        odd = (values.isna() & raw.notna()).to_numpy()
        if odd.any():
            text = raw[odd].astype(str).str.strip().str.lower()
            bad = ~text.isin(_NONFINITE_TEXT).to_numpy()
            if bad.any():
                at = int(np.flatnonzero(odd)[np.flatnonzero(bad)[0]])
                raise DataFormatError(
                    f"{path}: column {name!r} holds text {str(raw.iloc[at])[:40]!r} at line "
                    f"{first_line + at} ({int(bad.sum())} such cell(s) in lines {first_line}-"
                    f"{first_line + len(chunk) - 1}); CICIDS2017 feature columns are numbers "
                    "(Infinity/NaN/empty allowed)"
                )
        columns.append(values.to_numpy(dtype=np.float64))
    return np.column_stack(columns) if columns else np.empty((len(chunk), 0))


def _attempted_flags(path: Path, chunk: Any, first_line: int) -> np.ndarray:
    import pandas as pd

    raw = chunk.pop(ATTEMPTED)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < -1) | (values != np.round(values))
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: column {ATTEMPTED!r} holds {raw.iloc[at]!r} at line {first_line + at}; it is -1 "
            "for ordinary flows and an integer >= 0 for attempted ones"
        )
    return values >= 0


def _table(path: Path, chunk: Any, first_line: int, attempted: str) -> CicidsTable:
    chunk.columns = [str(c).strip() for c in chunk.columns]
    if LABEL not in chunk.columns:
        raise DataFormatError(f"{path}: no 'Label' column; columns start with {list(chunk.columns[:5])}")
    layout = detect_layout(chunk.columns)
    identifiers = IMPROVED_IDENTIFIERS if layout == "improved" else IDENTIFIERS
    flags = np.zeros(len(chunk), dtype=bool)
    if ATTEMPTED in chunk.columns:
        flags = _attempted_flags(path, chunk, first_line)
    drop = [c for c in chunk.columns if c in identifiers or re.fullmatch(r".+\.\d+", c)]
    chunk = chunk.drop(columns=drop)
    labels_raw = chunk.pop(LABEL)
    names = tuple(chunk.columns)
    values = _numeric(path, chunk, first_line)
    empty_line = np.isnan(values).all(axis=1) & labels_raw.isna().to_numpy()
    no_label = labels_raw.isna().to_numpy() & ~empty_line
    if no_label.any():
        at = int(np.flatnonzero(no_label)[0])
        raise DataFormatError(
            f"{path}: line {first_line + at} has flow values but no Label; fix or remove that line"
        )
    # a few distinct labels among up to millions of rows: normalise and map each once
    raw = np.where(labels_raw.isna().to_numpy(), "", labels_raw.astype(str).to_numpy(dtype=object))
    distinct, inverse = np.unique(raw, return_inverse=True)
    normalised = np.array([normalise_label(x) for x in distinct], dtype=object)
    labels = normalised[inverse]
    flags |= np.array([lab.lower().endswith(" - attempted") for lab in normalised], dtype=bool)[inverse]
    finite = np.isfinite(values)
    keep = finite.all(axis=1) & ~empty_line
    nonfinite = {names[j]: int(n) for j, n in enumerate((~finite[~empty_line]).sum(axis=0)) if n}
    n_attempted = int((flags & keep).sum())
    if attempted == "drop":
        keep &= ~flags
    family = np.full(len(distinct), "", dtype=object)
    for j in np.unique(inverse[keep & ~flags]):
        try:
            family[j] = family_of(normalised[j])
        except DataFormatError:
            line = first_line + int(np.flatnonzero(keep & ~flags & (inverse == j))[0])
            raise DataFormatError(
                f"{path}: unknown CICIDS2017 label {normalised[j]!r} at line {line}; known families: "
                f"BENIGN, {', '.join(FAMILIES)}"
            ) from None
    families = np.where(flags, "BENIGN", family[inverse]).astype(object)[keep]
    n_dropped = int((~(finite.all(axis=1)) | empty_line).sum())
    return CicidsTable(values[keep], names, labels[keep], families, n_dropped, n_attempted, layout, nonfinite)


def iter_cicids(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    chunk_size: int = 200_000,
    attempted: str = "benign",
) -> Iterator[CicidsTable]:
    """Stream CICIDS2017 CSV files (a folder, a file or a list) in chunks of rows.

    Parameters
    ----------
    source : path or sequence of paths
        CSV files or folders of them.
    chunk_size : int
        Rows per chunk.
    attempted : {"benign", "drop"}
        Improved layout: attempted flows (``Attempted Category`` ≥ 0) count as benign or are
        dropped.

    Raises
    ------
    DataFormatError
        No ``Label`` column, text in a numeric column, an unknown label, a row without a label,
        a header without rows, layouts mixed across files. Messages name the file and line.
    """
    import pandas as pd

    if attempted not in ("benign", "drop"):
        raise ValueError(f"attempted must be 'benign' or 'drop', got {attempted!r}")
    reference: tuple[str, ...] | None = None
    reference_path: Path | None = None
    for path in _files(source):
        n_rows = n_lines = 0
        try:
            with pd.read_csv(
                path,
                chunksize=chunk_size,
                encoding="cp1252",
                encoding_errors="replace",
                low_memory=False,
                skipinitialspace=True,
                skip_blank_lines=False,
            ) as reader:
                for chunk in reader:
                    first_line = n_lines + 2  # 1-based line numbers, after the header
                    n_lines += len(chunk)
                    n_rows += int(chunk.notna().any(axis=1).sum())  # blank lines are not flows
                    table = _table(path, chunk, first_line, attempted)
                    if reference is None:
                        reference, reference_path = table.feature_names, path
                    elif table.feature_names != reference:
                        differ = sorted(set(table.feature_names) ^ set(reference))[:4]
                        raise DataFormatError(
                            f"{path}: feature columns differ from {reference_path}'s (e.g. {differ}); "
                            "mixed CICIDS2017 layouts (original / improved) cannot share a table"
                        )
                    yield table
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            reason = " ".join(str(exc).split())
            raise DataFormatError(f"{path}: not a readable CICIDS2017 CSV ({reason})") from None
        except pd.errors.EmptyDataError:
            raise DataFormatError(f"{path}: the file is empty") from None
        if n_rows == 0:
            raise DataFormatError(f"{path}: has a header but no flows")


def read_cicids(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    chunk_size: int = 200_000,
    attempted: str = "benign",
) -> CicidsTable:
    """Read every row of the CSV files into one :class:`CicidsTable`.

    Raises
    ------
    DataFormatError
        As :func:`iter_cicids`, and when no flow is left (every row has Infinity/NaN).
    """
    parts = list(iter_cicids(source, chunk_size=chunk_size, attempted=attempted))
    dropped = sum(p.n_dropped_nonfinite for p in parts)
    columns: dict[str, int] = {}
    for part in parts:
        for name, n in part.nonfinite_columns.items():
            columns[name] = columns.get(name, 0) + n
    n_kept = sum(len(p.features) for p in parts)
    if n_kept == 0:
        worst = sorted(columns.items(), key=lambda kv: -kv[1])[:3]
        why = f"; Infinity/NaN in {dict(worst)}" if worst else ""
        raise DataFormatError(
            f"{source}: no flow left after dropping {dropped} row(s) with Infinity/NaN or empty lines"
            f"{why}; check the files"
        )
    if dropped:
        log.info("dropped %d flow(s) with Infinity/NaN features: %s", dropped, columns)
    return CicidsTable(
        np.vstack([p.features for p in parts]),
        parts[0].feature_names,
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.families for p in parts]),
        dropped,
        sum(p.n_attempted for p in parts),
        parts[0].layout,
        columns,
    )
