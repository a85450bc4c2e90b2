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
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hep_aa.exceptions import DataFormatError, OutputError

__all__ = [
    "MODEL_SIDECAR",
    "MODEL_WEIGHTS",
    "FeatureTable",
    "atomic_folder",
    "atomic_path",
    "atomic_write",
    "check_outputs",
    "load_arrays",
    "load_model_folder",
    "read_json",
    "read_table",
    "save_arrays",
    "save_model_folder",
    "write_json",
    "write_table",
]

LABEL = "label"
TYPE = "anomaly_type"
META_KEY = b"hep_aa"


def _fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) data to disk; quietly skipped where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{target}: cannot create its folder {target.parent} ({exc.strerror or exc}); choose a writable path"
        ) from None
    if not target.parent.is_dir():
        raise OutputError(f"{target}: {target.parent} is not a folder; choose another output path")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    An interrupted or failing writer never leaves a half-written file under the final name,
    and an existing file is only replaced once the new one is complete (flushed to disk,
    then renamed).

    Raises
    ------
    OutputError
        If the target's folder cannot be created or written, or the target is a folder.
    """
    target = Path(path)
    _make_parent(target)
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; give a file name for this output")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(
            f"{target}: cannot write in {target.parent} ({exc.strerror or exc}); choose a writable path"
        ) from None
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes it private; outputs follow the umask
    try:
        yield tmp_path
        _fsync_path(tmp_path)
        tmp_path.replace(target)
        _fsync_path(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name the same file (symlinks, ``./``, hard links)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return pa.samefile(pb)
    except OSError:
        pass
    return os.path.realpath(pa) == os.path.realpath(pb)


def check_outputs(
    inputs: Mapping[str, Iterable[str | os.PathLike[str]]],
    outputs: Mapping[str, str | os.PathLike[str]],
) -> None:
    """Refuse outputs that would overwrite an input or each other, before anything is read.

    Parameters
    ----------
    inputs : mapping of str to iterable of paths
        Input paths by the option or argument that named them (``"--features"``, ``"INPUTS"``).
    outputs : mapping of str to path
        Output paths by option name.

    Raises
    ------
    OutputError
        Naming the path and both options, e.g. ``in.h5: given as both INPUTS and --output``.
    """
    outs = [(name, Path(p)) for name, p in outputs.items()]
    for i, (out_name, out) in enumerate(outs):
        for in_name, paths in inputs.items():
            for p in paths:
                if _same_path(p, out):
                    raise OutputError(
                        f"{out}: given as both {in_name} and {out_name}; writing it would destroy the "
                        "input. Choose a different output path"
                    )
        for other_name, other in outs[i + 1 :]:
            if _same_path(out, other):
                raise OutputError(
                    f"{out}: given as both {out_name} and {other_name}; one output would overwrite "
                    "the other. Choose different paths"
                )


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str], *, allowed: Iterable[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it becomes ``path`` as a unit on success.

    Files are written into a fresh folder in the same parent, flushed to disk, and the folder
    is renamed onto ``path``. An existing ``path`` is moved aside first and removed after the
    rename, so an interrupted run leaves either the old folder whole or (for the instant
    between the two renames) none under the name — never a mix of old and new files.

    Parameters
    ----------
    allowed : iterable of str
        File names an existing folder may hold to be replaced (e.g. ``model.json``,
        ``model.safetensors``). A folder holding anything else is refused, so a mistyped
        ``-o`` never deletes a user's folder.

    Raises
    ------
    OutputError
        If ``path`` is a file or a folder with other content, or the parent is not writable.
    """
    target = Path(path)
    _make_parent(target)
    allowed = set(allowed)
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is a file, not a model folder; choose another output path")
    if target.is_dir():
        other = sorted(p.name for p in target.iterdir() if p.name not in allowed)
        if other:
            raise OutputError(
                f"{target}: the folder exists and holds {other[:3]}{' ...' if len(other) > 3 else ''}, "
                "which this output would delete; choose a new or empty folder"
            )
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; outputs follow the umask
    except OSError as exc:
        raise OutputError(
            f"{target}: cannot write in {target.parent} ({exc.strerror or exc}); choose a writable path"
        ) from None
    old: Path | None = None
    try:
        yield tmp
        for item in tmp.iterdir():
            _fsync_path(item)
        _fsync_path(tmp)
        if target.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            old.rmdir()
            target.replace(old)
        try:
            tmp.replace(target)
        except OSError as exc:
            if old is not None:  # put the previous folder back
                old.replace(target)
                old = None
            raise OutputError(f"{target}: cannot move the new folder into place ({exc})") from None
        _fsync_path(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and target.is_dir():
            shutil.rmtree(old, ignore_errors=True)


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


MODEL_WEIGHTS = "model.safetensors"
MODEL_SIDECAR = "model.json"
_SAVE_ID_KEY = "hep_aa_save_id"
_MAX_SIDECAR_BYTES = 256 * 2**20


def save_model_folder(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
) -> Path:
    """Write a model folder (``model.safetensors`` + ``model.json``) as a unit.

    Both files go into a temporary folder beside ``path`` that is flushed and renamed onto
    ``path`` (:func:`atomic_folder`): a kill at any moment leaves the previous model whole or,
    for the instant between two renames, no folder — never new weights with an old JSON. A
    random save id is stored in both the safetensors metadata and the JSON; loading refuses a
    folder whose two files carry different ids (files copied together by hand from two runs).

    Parameters
    ----------
    arrays : mapping of str to ndarray
        Weights (no pickle: safetensors).
    meta : mapping
        The sidecar content (class, hyperparameters, feature names, scaler, history,
        provenance); ``format``, ``format_version`` and ``save_id`` are set here.

    Returns
    -------
    Path
        The folder.
    """
    import uuid

    from safetensors.numpy import save

    from hep_aa.io.model_schema import MODEL_FORMAT, MODEL_FORMAT_VERSION

    save_id = uuid.uuid4().hex
    sidecar = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "save_id": save_id}
    sidecar.update({k: v for k, v in meta.items() if k not in sidecar})
    payload = save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata={_SAVE_ID_KEY: save_id})
    target = Path(path)
    with atomic_folder(target, allowed={MODEL_WEIGHTS, MODEL_SIDECAR}) as tmp:
        (tmp / MODEL_WEIGHTS).write_bytes(payload)
        with (tmp / MODEL_SIDECAR).open("w", encoding="utf-8") as fh:
            json.dump(sidecar, fh, indent=2)
            fh.write("\n")
    return target


def _safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file (tensor dtypes, shapes, metadata), read alone."""
    import struct

    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) != 8:
                raise ValueError("shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > 100 * 2**20:
                raise ValueError(f"header length {n} is implausible")
            header = json.loads(fh.read(n))
    except FileNotFoundError:
        raise DataFormatError(f"{path}: file not found") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a valid safetensors file ({exc})") from None
    if not isinstance(header, dict):
        raise DataFormatError(f"{path}: not a valid safetensors file (header is not an object)")
    return header


def load_model_folder(
    path: str | os.PathLike[str], *, classes: Iterable[str] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and validate a model folder written by :func:`save_model_folder`.

    Order: the JSON is parsed and validated against the schema
    (:func:`hep_aa.io.model_schema.validate_model_meta`), the weights' header is read and its
    save id compared with the JSON's, the implied network size is checked against the stored
    tensors, then the tensors are loaded and checked to be finite. Nothing is imported or
    executed, and nothing is built, before every check has passed.

    Returns
    -------
    meta : dict
        The validated sidecar.
    arrays : dict of str to ndarray
        The weights.

    Raises
    ------
    ModelError
        Naming the folder or file and what is wrong.
    """
    from hep_aa.exceptions import ModelError
    from hep_aa.io.model_schema import DETECTOR_CLASSES, check_weight_shapes, validate_model_meta

    folder = Path(path)
    sidecar, weights = folder / MODEL_SIDECAR, folder / MODEL_WEIGHTS
    if not folder.is_dir():
        raise ModelError(
            f"{folder}: no {MODEL_SIDECAR} found (no such model folder); pass a folder written by "
            "hep-aa train / .save()"
        )
    if not sidecar.is_file():
        raise ModelError(
            f"{folder}: no {MODEL_SIDECAR} found; pass a folder written by hep-aa train / .save()"
        )
    if not weights.is_file():
        raise ModelError(f"{folder}: no {MODEL_WEIGHTS} found; the model folder is incomplete — re-train it")
    if sidecar.stat().st_size > _MAX_SIDECAR_BYTES:
        raise ModelError(f"{sidecar}: {sidecar.stat().st_size} bytes is far too large for a model sidecar")
    try:
        meta = read_json(sidecar)
    except DataFormatError as exc:
        raise ModelError(str(exc)) from None
    validate_model_meta(meta, sidecar, classes=DETECTOR_CLASSES if classes is None else classes)
    try:
        header = _safetensors_header(weights)
    except DataFormatError as exc:
        reason = str(exc).removesuffix("; re-create it")
        raise ModelError(f"{reason} — cannot restore the weights; re-train the model") from None
    stored = (header.get("__metadata__") or {}).get(_SAVE_ID_KEY)
    if stored != meta["save_id"]:
        raise ModelError(
            f"{folder}: {MODEL_WEIGHTS} (save {stored}) and {MODEL_SIDECAR} (save {meta['save_id']}) come "
            "from different saves; the folder was assembled from two runs — re-train the model"
        )
    shapes = {
        k: tuple(v.get("shape", ())) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)
    }
    check_weight_shapes(meta, shapes, sidecar)
    try:
        arrays = load_arrays(weights)
    except DataFormatError as exc:
        reason = str(exc).removesuffix("; re-create it")
        raise ModelError(f"{reason} — cannot restore the weights; re-train the model") from None
    for name, values in arrays.items():
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            raise ModelError(f"{weights}: NaN/Inf in tensor {name!r}; the model is unusable — re-train it")
    return meta, arrays


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
    if n == 0:
        raise DataFormatError(f"{path}: refusing to write a table with no rows; the inputs gave no events")
    label_arr = np.asarray(labels)
    if label_arr.shape != (n,) or not np.isin(label_arr, (0, 1)).all():
        raise ValueError(f"labels must be {n} values in {{0, 1}}, got {label_arr[:5]!r}")
    reserved = {LABEL, TYPE}
    clash = reserved.intersection(feature_names) | reserved.intersection(spectators or {})
    if clash:
        raise ValueError(f"column name(s) {sorted(clash)} are reserved")
    type_arr = np.full(n, types, dtype=object) if isinstance(types, str) else np.asarray(types, dtype=object)
    cols: dict[str, Any] = {name: features[:, i] for i, name in enumerate(feature_names)}
    cols[LABEL] = label_arr.astype(np.int8)
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


def _table_metadata(p: Path, schema: Any) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise DataFormatError(
            f"{p}: no hep_aa metadata in the parquet schema; write feature tables with a "
            "`hep-aa features ...` command or hep_aa.io.artifacts.write_table"
        )
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(
            f"{p}: the hep_aa schema metadata is not valid JSON ({exc}); re-create the table"
        ) from None
    if not isinstance(meta, dict):
        raise DataFormatError(f"{p}: the hep_aa schema metadata is not a JSON object; re-create the table")
    for key in ("feature_columns", "label_column", "type_column"):
        if key not in meta:
            raise DataFormatError(f"{p}: the hep_aa schema metadata lacks {key!r}; re-create the table")
    names = meta["feature_columns"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataFormatError(f"{p}: hep_aa metadata 'feature_columns' is not a list of column names")
    if len(set(names)) != len(names):
        raise DataFormatError(f"{p}: hep_aa metadata 'feature_columns' names a column twice")
    for key in ("label_column", "type_column"):
        if not isinstance(meta[key], str):
            raise DataFormatError(f"{p}: hep_aa metadata {key!r} is not a column name")
    return meta


def read_table(path: str | os.PathLike[str], *, check_finite: bool = True) -> FeatureTable:
    """Read a feature or score table written by :func:`write_table`.

    Raises
    ------
    DataFormatError
        If the file is missing, not parquet, has no rows, lacks the hep_aa metadata or a listed
        column, has a non-numeric feature column, labels other than 0/1, or (with
        ``check_finite``) NaN/Inf in a feature column. The message names the file and column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if p.is_dir():
        raise DataFormatError(f"{p}: is a folder; pass a parquet feature or score table")
    try:
        # ParquetFile reads the whole file without pyarrow.dataset (and the pandas it imports)
        with pq.ParquetFile(p) as handle:
            table = handle.read()
    except FileNotFoundError:
        raise DataFormatError(f"{p}: file not found") from None
    except (OSError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())
        raise DataFormatError(f"{p}: not a readable parquet file ({reason}); re-create it") from None
    meta = _table_metadata(p, table.schema)
    names = list(meta["feature_columns"])
    missing = [c for c in [*names, meta["label_column"], meta["type_column"]] if c not in table.column_names]
    if missing:
        raise DataFormatError(f"{p}: column(s) {missing} listed in the hep_aa metadata are missing")
    if table.num_rows == 0:
        raise DataFormatError(f"{p}: the table has no rows; re-create it from non-empty inputs")
    cols = []
    for c in names:
        column = table.column(c)
        if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
            raise DataFormatError(
                f"{p}: feature column {c!r} has type {column.type}, not numbers; re-create the table"
            )
        if column.null_count:
            raise DataFormatError(f"{p}: feature column {c!r} has {column.null_count} missing value(s)")
        cols.append(column.to_numpy().astype(np.float64))
    features = np.column_stack(cols) if cols else np.empty((table.num_rows, 0))
    if check_finite and features.size and not np.all(np.isfinite(features)):
        bad = [names[j] for j in np.where(~np.all(np.isfinite(features), axis=0))[0]]
        raise DataFormatError(f"{p}: NaN/Inf in feature column(s) {bad}; clean or drop those events")
    labels = _labels(p, table.column(meta["label_column"]), meta["label_column"])
    type_col = table.column(meta["type_column"])
    if (
        not (pa.types.is_string(type_col.type) or pa.types.is_large_string(type_col.type))
        or type_col.null_count
    ):
        raise DataFormatError(f"{p}: anomaly-type column {meta['type_column']!r} must hold text, one per row")
    used = {*names, meta["label_column"], meta["type_column"]}
    spectators = {c: table.column(c).to_numpy() for c in table.column_names if c not in used}
    return FeatureTable(
        features=features,
        feature_names=tuple(names),
        labels=labels,
        types=np.asarray(type_col.to_pylist(), dtype=object),
        spectators=spectators,
        metadata=meta,
        path=str(p),
    )


def _labels(p: Path, column: Any, name: str) -> np.ndarray:
    import pyarrow as pa

    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise DataFormatError(f"{p}: label column {name!r} has type {column.type}; labels are 0 or 1")
    if column.null_count:
        raise DataFormatError(f"{p}: label column {name!r} has {column.null_count} missing value(s)")
    values = column.to_numpy()
    bad = ~np.isin(values, (0, 1))
    if bad.any():
        first = np.flatnonzero(bad)[:5]
        raise DataFormatError(
            f"{p}: label column {name!r} has {int(bad.sum())} value(s) other than 0/1 "
            f"(rows {first.tolist()}: {values[first].tolist()}); labels are 0 (background) or 1 (anomaly)"
        )
    return values.astype(np.int8)
