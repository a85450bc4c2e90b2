"""LHC Olympics 2020 files: streaming reader, pandas-compatible writer, Delphes EFlow reader.

The low-level LHCO files are pandas/PyTables *fixed*-format HDF5: ``/df/block0_values`` is a
float64 (N, K) blosc-compressed array with K = 700 × (pT [GeV], η, φ) (+ 1 label column in
the R&D file); hadrons are massless and zero-padded at the end. :func:`iter_lhco` reads
``chunk_size`` rows at a time (memory does not grow with the file), drops the padding and
yields awkward arrays of ``Momentum4D`` particles. :class:`LHCOWriter` writes exactly the
layout pandas writes (readable by :func:`pandas.read_hdf`), row blocks at a time, atomically.

Delphes ROOT files give the same particles from their energy-flow objects
(``EFlowTrack``, ``EFlowPhoton``, ``EFlowNeutralHadron``): :func:`iter_delphes_eflow`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from hep_aa.exceptions import DataFormatError
from hep_aa.io.artifacts import atomic_path

__all__ = [
    "HIGH_LEVEL_COLUMNS",
    "MAX_PARTICLES",
    "LHCOChunk",
    "LHCOWriter",
    "count_events",
    "event_range",
    "has_labels",
    "iter_delphes_eflow",
    "iter_lhco",
    "particles_from_block",
    "read_high_level",
    "read_masterkey",
]

log = logging.getLogger(__name__)

MAX_PARTICLES = 700
HIGH_LEVEL_COLUMNS = [
    "pxj1",
    "pyj1",
    "pzj1",
    "mj1",
    "tau1j1",
    "tau2j1",
    "tau3j1",
    "pxj2",
    "pyj2",
    "pzj2",
    "mj2",
    "tau1j2",
    "tau2j2",
    "tau3j2",
    "label",
]
_VALUES = "df/block0_values"


@dataclass(frozen=True)
class LHCOChunk:
    """One block of events.

    Attributes
    ----------
    particles : ak.Array of shape (n_events, var)
        Records ``pt, eta, phi, mass`` named ``Momentum4D`` (vector), padding removed.
    labels : ndarray of shape (n_events,) or None
        1 = signal, 0 = background (R&D file, masterkey, or generated files).
    start : int
        Index of the first event of the chunk in the file.
    """

    particles: ak.Array
    labels: np.ndarray | None
    start: int

    def __len__(self) -> int:
        return len(self.particles)


def particles_from_block(block: np.ndarray) -> ak.Array:
    """Turn an (n, 3·m) block of (pT, η, φ) triplets into jagged massless particles.

    Zero-pT entries (padding) are dropped wherever they are, so events need not be
    padded only at the end.
    """
    import vector

    vector.register_awkward()  # the records are vector Momentum4D
    n, k = block.shape
    m = k // 3
    keep = block[:, 0 : 3 * m : 3] > 0.0
    # gather the kept triplets straight from the block (a view of a pandas 2101-column block
    # would be copied whole by a reshape): row-major, as triplets[keep] would be
    rows, cols = np.nonzero(keep)
    cols *= 3
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=offsets[1:])
    fields = [block[rows, cols], block[rows, cols + 1], block[rows, cols + 2], np.zeros(len(rows))]
    content = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.asarray(f, dtype=np.float64)) for f in fields],
        ["pt", "eta", "phi", "mass"],
        parameters={"__record__": "Momentum4D"},
    )
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), content))


def _open_values(path: Path) -> Any:
    import h5py
    import hdf5plugin  # noqa: F401  (registers the blosc filter, HDF5 id 32001)

    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        is_hdf5 = h5py.is_hdf5(path)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be opened ({exc})") from None
    if not is_hdf5:
        raise DataFormatError(f"{path}: not an HDF5 file; LHCO files are pandas/PyTables HDF5 (.h5)")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(
            f"{path}: HDF5 file is truncated or corrupt ({exc}); re-download or re-generate it"
        ) from None
    if "df" not in handle or _VALUES not in handle:
        handle.close()
        raise DataFormatError(
            f"{path}: no /df/block0_values dataset; expected a pandas fixed-format frame written with key 'df'"
        )
    return handle


def event_range(p: Path, start: int, stop: int | None, n_total: int) -> int:
    """Checked end of the event range [start, stop) of a file ``p`` with ``n_total`` events.

    Raises
    ------
    DataFormatError
        A negative bound, ``stop < start``, or ``start`` beyond the file.
    """
    if start < 0 or (stop is not None and stop < 0):
        raise DataFormatError(f"{p}: event range [{start}, {stop}) has a negative bound")
    if stop is not None and stop < start:
        raise DataFormatError(f"{p}: --stop {stop} is before --start {start}; give start < stop")
    if start >= n_total and n_total > 0:
        raise DataFormatError(f"{p}: --start {start} is beyond the file's {n_total} events")
    return n_total if stop is None else min(stop, n_total)


def _rows(rows: np.ndarray) -> str:
    return f"{rows[:5].tolist()}{' ...' if len(rows) > 5 else ''}"


def _check_particles(p: Path, block: np.ndarray, first: int) -> None:
    """NaN/Inf anywhere or a negative pT is an error: padding is pT = 0 exactly, so a negative
    pT would otherwise be dropped as padding without a word (and mjj shift by TeV)."""
    finite = np.isfinite(block)
    if not finite.all():
        rows = first + np.flatnonzero(~finite.all(axis=1))
        raise DataFormatError(
            f"{p}: NaN/Inf in particle columns of event(s) {_rows(rows)}; the file is corrupt"
        )
    pt = block[:, 0::3]
    negative = pt < 0
    if negative.any():
        rows = np.flatnonzero(negative.any(axis=1))
        col = 3 * int(np.flatnonzero(negative[rows[0]])[0])
        raise DataFormatError(
            f"{p}: negative pT in event(s) {_rows(first + rows)} (first in column {col}, "
            f"pT = {pt[rows[0], col // 3]:.6g} GeV); LHCO pT columns are >= 0 (0 = padding): the file is corrupt"
        )


def _check_labels(p: Path, values: np.ndarray, first: int, what: str) -> np.ndarray:
    """Labels as int8, refusing NaN and anything but 0 (background) and 1 (signal)."""
    bad = ~np.isin(values, (0.0, 1.0))  # NaN is not in the set either
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataFormatError(
            f"{p}: {what} holds {float(values[rows[0]]):g} at event {first + rows[0]} ({int(bad.sum())} bad "
            f"value(s), event(s) {_rows(first + rows)}); labels are 0 (background) or 1 (signal)"
        )
    return values.astype(np.int8)


def has_labels(path: str | os.PathLike[str]) -> bool:
    """Whether an LHCO low-level file carries a label column (2101 columns) or not (2100)."""
    with _open_values(Path(path)) as handle:
        shape = handle[_VALUES].shape
    return len(shape) == 2 and shape[1] == 3 * MAX_PARTICLES + 1


def count_events(path: str | os.PathLike[str]) -> int:
    """Number of events (rows) in an LHCO HDF5 file, without reading them."""
    with _open_values(Path(path)) as handle:
        return int(handle[_VALUES].shape[0])


def read_masterkey(path: str | os.PathLike[str], n_events: int | None = None) -> np.ndarray:
    """Labels of a black box from its ``.masterkey`` file (one integer per line).

    Raises
    ------
    DataFormatError
        If the file is missing, has a non-integer line or (with ``n_events``) the wrong length.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii")
    except FileNotFoundError:
        raise DataFormatError(f"{p}: masterkey file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{p}: cannot read masterkey ({exc})") from None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    values = np.empty(len(lines))
    for i, line in enumerate(lines):
        try:
            values[i] = float(line)
        except ValueError:
            raise DataFormatError(f"{p}: line {i + 1} ({line!r}) is not an integer label") from None
    if not len(values):
        raise DataFormatError(f"{p}: the masterkey file holds no labels")
    labels = _check_labels(p, values, 0, "masterkey")
    if n_events is not None and len(labels) != n_events:
        raise DataFormatError(
            f"{p}: masterkey has {len(labels)} labels but the events file has {n_events} events; "
            "use the masterkey that belongs to this black box"
        )
    return labels


def iter_lhco(
    path: str | os.PathLike[str],
    *,
    chunk_size: int = 10_000,
    start: int = 0,
    stop: int | None = None,
    masterkey: str | os.PathLike[str] | None = None,
) -> Iterator[LHCOChunk]:
    """Stream an LHCO low-level file (R&D, black box or generated) in chunks.

    Parameters
    ----------
    path : path
        HDF5 file with K = 2101 (with label) or 2100 (without) columns.
    chunk_size : int
        Events per chunk; peak memory ≈ chunk_size × K × 8 bytes × a few.
    start, stop : int
        Event range [start, stop) (stop=None: to the end).
    masterkey : path, optional
        Labels for a black box (K = 2100).

    Yields
    ------
    LHCOChunk

    Raises
    ------
    DataFormatError
        Not HDF5, no ``/df``, wrong column count, truncated data, NaN/Inf in particle columns,
        masterkey length mismatch.
    """
    p = Path(path)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    with _open_values(p) as handle:
        values = handle[_VALUES]
        if values.ndim != 2 or values.shape[1] not in (3 * MAX_PARTICLES, 3 * MAX_PARTICLES + 1):
            raise DataFormatError(
                f"{p}: /df/block0_values has shape {values.shape}; LHCO low-level files have "
                f"{3 * MAX_PARTICLES} columns (black box) or {3 * MAX_PARTICLES + 1} (with label). "
                "For the 15-column high-level file use read_high_level"
            )
        n_total, k = values.shape
        has_label = k == 3 * MAX_PARTICLES + 1
        key = read_masterkey(masterkey, n_total) if masterkey is not None else None
        stop = event_range(p, start, stop, n_total)
        for lo in range(start, stop, chunk_size):
            hi = min(lo + chunk_size, stop)
            try:
                block = values[lo:hi]
            except (OSError, ValueError) as exc:
                raise DataFormatError(
                    f"{p}: cannot read events {lo}-{hi} ({exc}); the file is truncated or corrupt"
                ) from None
            particles_block = block[:, : 3 * MAX_PARTICLES]
            _check_particles(p, particles_block, lo)
            if has_label:
                labels = _check_labels(p, block[:, -1], lo, f"label column {3 * MAX_PARTICLES}")
            elif key is not None:
                labels = key[lo:hi]
            else:
                labels = None
            particles = particles_from_block(particles_block)
            # not held by this suspended generator while the caller works on the chunk
            del block, particles_block
            yield LHCOChunk(particles, labels, lo)


def read_high_level(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read the 15-column high-level LHCO features file (``*.features.h5``).

    Returns
    -------
    dict of str to ndarray
        One array per column of :data:`HIGH_LEVEL_COLUMNS` (GeV units as in the file).
    """
    p = Path(path)
    with _open_values(p) as handle:
        values = handle[_VALUES]
        items = handle["df/block0_items"][()]
        names = [i.decode() if isinstance(i, bytes) else str(i) for i in items]
        if len(names) != values.shape[1] or set(names) != set(HIGH_LEVEL_COLUMNS):
            raise DataFormatError(
                f"{p}: columns {names} are not the 15 LHCO high-level columns {list(HIGH_LEVEL_COLUMNS)}"
            )
        try:
            data = values[()]
        except (OSError, ValueError) as exc:
            raise DataFormatError(
                f"{p}: cannot read the table ({exc}); the file is truncated or corrupt"
            ) from None
    columns = {name: data[:, i] for i, name in enumerate(names)}
    for name, values in columns.items():
        if name != "label" and not np.all(np.isfinite(values)):
            rows = np.flatnonzero(~np.isfinite(values))
            raise DataFormatError(
                f"{p}: NaN/Inf in column {name!r} of event(s) {_rows(rows)}; the file is corrupt"
            )
    columns["label"] = _check_labels(p, columns["label"], 0, "column 'label'")
    return columns


class LHCOWriter:
    """Write an LHCO-layout HDF5 file exactly as ``DataFrame.to_hdf(key="df", complib="blosc")``.

    Rows are appended block by block into a pre-sized blosc-compressed CArray, so memory stays
    bounded; the file appears under its final name only after :meth:`close` (atomic).

    Parameters
    ----------
    path : path
        Output ``.h5`` file.
    n_events : int
        Number of rows the file will hold (checked on close).
    with_label : bool
        2101 columns (label last) or 2100.
    complevel : int
        Blosc compression level (pandas' default when complib is given: 9; LHCO used 5).

    Examples
    --------
    >>> with LHCOWriter("out.h5", n_events=len(block)) as w:  # doctest: +SKIP
    ...     w.write(block, labels)
    """

    def __init__(
        self, path: str | os.PathLike[str], n_events: int, *, with_label: bool = True, complevel: int = 5
    ) -> None:
        import tables

        self.path = Path(path)
        self.n_events = int(n_events)
        self.n_columns = 3 * MAX_PARTICLES + (1 if with_label else 0)
        self.with_label = with_label
        self._written = 0
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._file = tables.open_file(str(self._tmp), mode="w")
        filters = tables.Filters(complevel=complevel, complib="blosc")
        group = self._file.create_group("/", "df")
        attrs = group._v_attrs
        attrs.pandas_type = "frame"
        attrs.encoding = "UTF-8"
        attrs.errors = "strict"
        attrs.ndim = 2
        attrs.axis0_variety = "regular"
        attrs.axis1_variety = "regular"
        attrs.nblocks = 1
        attrs.block0_items_variety = "regular"
        columns = np.arange(self.n_columns, dtype=np.int64)
        self._index_array(group, "axis0", columns, filters)
        self._index_array(group, "axis1", np.arange(self.n_events, dtype=np.int64), filters)
        self._index_array(group, "block0_items", columns, filters)
        self._values = self._file.create_carray(
            group,
            "block0_values",
            tables.Float64Atom(),
            shape=(self.n_events, self.n_columns),
            filters=filters,
        )
        self._values._v_attrs.transposed = True

    def _index_array(self, group: Any, name: str, values: np.ndarray, filters: Any) -> None:
        import tables

        arr = self._file.create_carray(group, name, tables.Int64Atom(), shape=values.shape, filters=filters)
        arr[:] = values
        arr._v_attrs.kind = "integer"
        arr._v_attrs.name = "N."
        arr._v_attrs.transposed = True

    def write(self, block: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Append rows: ``block`` of shape (n, 2100) and, for a labelled file, ``labels`` (n,)."""
        block = np.asarray(block, dtype=np.float64)
        if block.ndim != 2 or block.shape[1] != 3 * MAX_PARTICLES:
            raise ValueError(f"block must have shape (n, {3 * MAX_PARTICLES}), got {block.shape}")
        if self.with_label:
            if labels is None or len(labels) != len(block):
                raise ValueError("a labelled LHCO file needs one label per row")
            block = np.column_stack([block, np.asarray(labels, dtype=np.float64)])
        if self._written + len(block) > self.n_events:
            raise ValueError(f"writing {len(block)} rows would exceed n_events={self.n_events}")
        self._values[self._written : self._written + len(block)] = block
        self._written += len(block)

    def close(self, *, commit: bool = True) -> None:
        """Close the file; move it into place when ``commit`` and all rows were written."""
        self._file.close()
        if commit and self._written != self.n_events:
            self._ctx.__exit__(ValueError, None, None)
            raise ValueError(f"{self.path}: {self._written} rows written but n_events={self.n_events}")
        if commit:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, None, None)

    def __enter__(self) -> LHCOWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(commit=exc_type is None)


def pad_particles(
    pt: ak.Array, eta: ak.Array, phi: ak.Array, max_particles: int = MAX_PARTICLES
) -> np.ndarray:
    """Pack jagged (pT, η, φ) into the LHCO (n, 3·max_particles) zero-padded block.

    Events with more than ``max_particles`` particles keep the ``max_particles`` highest-pT
    ones (a warning is logged with the count).
    """
    order = ak.argsort(pt, axis=1, ascending=False)
    pt, eta, phi = pt[order], eta[order], phi[order]
    n_over = int(ak.sum(ak.num(pt) > max_particles))
    if n_over:
        log.warning(
            "%d event(s) have more than %d particles; keeping the %d hardest",
            n_over,
            max_particles,
            max_particles,
        )
    out = np.zeros((len(pt), max_particles, 3))
    for i, arr in enumerate((pt, eta, phi)):
        padded = ak.fill_none(ak.pad_none(arr[:, :max_particles], max_particles, axis=1, clip=True), 0.0)
        out[:, :, i] = ak.to_numpy(padded)
    return out.reshape(len(pt), 3 * max_particles)


def iter_delphes_eflow(
    path: str | os.PathLike[str], *, chunk_size: int = 10_000, start: int = 0, stop: int | None = None
) -> Iterator[LHCOChunk]:
    """Stream a Delphes ROOT file's energy-flow objects as LHCO-like massless particles.

    ``EFlowTrack`` (PT, Eta, Phi), ``EFlowPhoton`` and ``EFlowNeutralHadron`` (ET, Eta, Phi)
    are concatenated per event, as the LHCO "hadrons" were.

    Raises
    ------
    DataFormatError
        Not a ROOT file, no ``Delphes`` tree, missing EFlow branches.
    """
    import uproot

    p = Path(path)
    branches = {
        "EFlowTrack": ("EFlowTrack.PT", "EFlowTrack.Eta", "EFlowTrack.Phi"),
        "EFlowPhoton": ("EFlowPhoton.ET", "EFlowPhoton.Eta", "EFlowPhoton.Phi"),
        "EFlowNeutralHadron": ("EFlowNeutralHadron.ET", "EFlowNeutralHadron.Eta", "EFlowNeutralHadron.Phi"),
    }
    if not p.is_file():
        raise DataFormatError(f"{p}: file not found")
    try:
        handle = uproot.open(p)
    except Exception as exc:  # uproot raises ValueError/OSError/its own errors for non-ROOT bytes
        raise DataFormatError(f"{p}: not a readable ROOT file ({exc})") from None
    with handle:
        if "Delphes" not in handle:
            raise DataFormatError(f"{p}: no 'Delphes' tree (keys: {handle.keys()[:10]})")
        tree = handle["Delphes"]
        wanted = [b for triple in branches.values() for b in triple]
        missing = [b for b in wanted if b not in tree]
        if missing:
            raise DataFormatError(
                f"{p}: Delphes tree lacks branch(es) {missing}; it needs the EFlow collections"
            )
        stop = event_range(p, start, stop, tree.num_entries)
        try:
            for lo in range(start, stop, chunk_size):
                hi = min(lo + chunk_size, stop)
                arrays = tree.arrays(wanted, entry_start=lo, entry_stop=hi)
                for name in wanted:
                    flat = ak.to_numpy(ak.flatten(arrays[name], axis=None))
                    if not np.all(np.isfinite(flat)) or (name.endswith((".PT", ".ET")) and np.any(flat < 0)):
                        raise DataFormatError(
                            f"{p}: NaN/Inf or negative pT/ET in branch {name!r} (entries {lo}-{hi - 1}); "
                            "the file is corrupt"
                        )
                pts = ak.concatenate([arrays[b[0]] for b in branches.values()], axis=1)
                etas = ak.concatenate([arrays[b[1]] for b in branches.values()], axis=1)
                phis = ak.concatenate([arrays[b[2]] for b in branches.values()], axis=1)
                import vector

                vector.register_awkward()
                order = ak.argsort(pts, axis=1, ascending=False)
                parts = ak.zip(
                    {
                        "pt": ak.values_astype(pts[order], np.float64),
                        "eta": ak.values_astype(etas[order], np.float64),
                        "phi": ak.values_astype(phis[order], np.float64),
                        "mass": ak.zeros_like(pts[order], dtype=np.float64),
                    },
                    with_name="Momentum4D",
                )
                yield LHCOChunk(parts, None, lo)
        except DataFormatError:
            raise
        except Exception as exc:  # uproot: OSError, ValueError, DeserializationError ...
            reason = " ".join(str(exc).split())[:300]
            raise DataFormatError(
                f"{p}: cannot read Delphes events ({type(exc).__name__}: {reason}); the file is truncated or corrupt"
            ) from None
