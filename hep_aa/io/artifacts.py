"""Artifacts: atomic writes, JSON, safetensors arrays and hep_aa feature/score tables (parquet).

Feature tables are parquet files whose schema metadata (key ``hep_aa``) records which columns
are model inputs, which column holds the label (1 = anomaly, 0 = background/normal) and which
the anomaly type (``"background"``, ``"signal"``, ``"fashion-mnist"``, ...). Every other column
(event weights, ``mjj`` for the sculpting check, ...) is carried along as a spectator.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = [
    "FeatureTable",
    "atomic_path",
    "atomic_write",
    "load_arrays",
    "read_json",
    "read_table",
    "save_arrays",
    "write_json",
    "write_table",
]

LABEL = "label"
TYPE = "anomaly_type"
META_KEY = b"hep_aa"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    An interrupted or failing writer never leaves a half-written file under the final name,
    and an existing file is only replaced once the new one is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.replace(target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it replaces ``path`` only when the block succeeds."""
    with atomic_path(path) as tmp:
        encoding = None if "b" in mode else "utf-8"
        with tmp.open(mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path) as fh:
        json.dump(obj, fh, indent=2, sort_keys=False, allow_nan=True)
        fh.write("\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file, raising :class:`DataFormatError` naming the file on failure."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{p}: not valid JSON ({exc}); re-create it") from None


def save_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Save named arrays in the safetensors format (no pickle), atomically."""
    from safetensors.numpy import save

    payload = save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    with atomic_write(path, "wb") as fh:
        fh.write(payload)


def load_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load a safetensors file into NumPy arrays; never executes code from the file."""
    from safetensors.numpy import load

    p = Path(path)
    try:
        return dict(load(p.read_bytes()))
    except FileNotFoundError:
        raise DataFormatError(f"{p}: file not found") from None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise DataFormatError(f"{p}: not a valid safetensors file ({exc}); re-create it") from None


@dataclass(frozen=True)
class FeatureTable:
    """A feature table read from parquet.

    Attributes
    ----------
    features : ndarray of shape (n_events, n_features), float64
    feature_names : tuple of str
    labels : ndarray of shape (n_events,), int8
        1 = anomaly, 0 = background/normal.
    types : ndarray of shape (n_events,), object (str)
        Anomaly type of each event (``"background"`` for background).
    spectators : dict of str to ndarray
        Every other column (weights, ``mjj`` ...).
    metadata : dict
        The ``hep_aa`` schema metadata (dataset name, feature set, provenance).
    path : str
        Where it was read from.
    """

    features: np.ndarray
    feature_names: tuple[str, ...]
    labels: np.ndarray
    types: np.ndarray
    spectators: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> FeatureTable:
        """Rows where ``mask`` is true (boolean array or integer indices)."""
        return FeatureTable(
            self.features[mask],
            self.feature_names,
            self.labels[mask],
            self.types[mask],
            {k: v[mask] for k, v in self.spectators.items()},
            self.metadata,
            self.path,
        )


def write_table(
    path: str | os.PathLike[str],
    features: np.ndarray,
    feature_names: list[str] | tuple[str, ...],
    *,
    labels: np.ndarray,
    types: np.ndarray | list[str] | str,
    spectators: Mapping[str, np.ndarray] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write a feature table to parquet atomically (see module docstring for the layout).

    Parameters
    ----------
    features : ndarray of shape (n_events, n_features)
    feature_names : sequence of str
    labels : ndarray of shape (n_events,)
        1 = anomaly, 0 = background.
    types : str or sequence of str
        Anomaly type per event (or one for all).
    spectators : mapping, optional
        Extra per-event columns.
    metadata : mapping, optional
        JSON-serialisable provenance stored in the schema metadata.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = np.asarray(features, dtype=np.float64)
    n = len(features)
    if features.ndim != 2 or features.shape[1] != len(feature_names):
        raise ValueError(f"features of shape {features.shape} do not match {len(feature_names)} names")
    reserved = {LABEL, TYPE}
    clash = reserved.intersection(feature_names) | reserved.intersection(spectators or {})
    if clash:
        raise ValueError(f"column name(s) {sorted(clash)} are reserved")
    type_arr = np.full(n, types, dtype=object) if isinstance(types, str) else np.asarray(types, dtype=object)
    cols: dict[str, Any] = {name: features[:, i] for i, name in enumerate(feature_names)}
    cols[LABEL] = np.asarray(labels, dtype=np.int8)
    cols[TYPE] = pa.array(type_arr.astype(str), type=pa.string())
    for name, values in (spectators or {}).items():
        cols[name] = np.asarray(values)
    meta = {
        "feature_columns": list(feature_names),
        "label_column": LABEL,
        "type_column": TYPE,
        **dict(metadata or {}),
    }
    table = pa.table(cols).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_table(path: str | os.PathLike[str], *, check_finite: bool = True) -> FeatureTable:
    """Read a feature or score table written by :func:`write_table`.

    Raises
    ------
    DataFormatError
        If the file is missing, not parquet, lacks the hep_aa metadata or a listed column, or
        (with ``check_finite``) has NaN/Inf in a feature column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    try:
        table = pq.read_table(p)
    except FileNotFoundError:
        raise DataFormatError(f"{p}: file not found") from None
    except (OSError, pa.ArrowException) as exc:
        raise DataFormatError(f"{p}: not a readable parquet file ({exc}); re-create it") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise DataFormatError(
            f"{p}: no hep_aa metadata in the parquet schema; write feature tables with a "
            "`hep-aa features ...` command or hep_aa.io.artifacts.write_table"
        )
    meta = json.loads(raw)
    names = list(meta["feature_columns"])
    missing = [c for c in [*names, meta["label_column"], meta["type_column"]] if c not in table.column_names]
    if missing:
        raise DataFormatError(f"{p}: column(s) {missing} listed in the hep_aa metadata are missing")
    features = (
        np.column_stack([table.column(c).to_numpy().astype(np.float64) for c in names])
        if names
        else (np.empty((table.num_rows, 0)))
    )
    if check_finite and features.size and not np.all(np.isfinite(features)):
        bad = [names[j] for j in np.where(~np.all(np.isfinite(features), axis=0))[0]]
        raise DataFormatError(f"{p}: NaN/Inf in feature column(s) {bad}; clean or drop those events")
    used = {*names, meta["label_column"], meta["type_column"]}
    spectators = {c: table.column(c).to_numpy() for c in table.column_names if c not in used}
    return FeatureTable(
        features=features,
        feature_names=tuple(names),
        labels=table.column(meta["label_column"]).to_numpy().astype(np.int8),
        types=np.asarray(table.column(meta["type_column"]).to_pylist(), dtype=object),
        spectators=spectators,
        metadata=meta,
        path=str(p),
    )
