"""The bad-input corpus: every reader and subcommand, run as a user runs them.

Each case builds its bad input from fixtures (real formats, written here; no binaries are
committed) and asserts what the CLI promises for a user error:

- exit code 2;
- exactly one line on stderr, starting ``hep-aa: error:``, with no traceback;
- the line names the file or the field at fault;
- nothing is written: the requested outputs do not exist, no temporary file is left beside
  them, and inputs named as outputs are unchanged byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uproot

from hep_aa.cli import main
from hep_aa.io.artifacts import MODEL_SIDECAR, MODEL_WEIGHTS, write_table
from hep_aa.io.lhco import MAX_PARTICLES, LHCOWriter

K = 3 * MAX_PARTICLES


# ------------------------------------------------------------------ good inputs (fixtures)
def lhco_block(n: int, seed: int = 0) -> np.ndarray:
    """n LHCO-layout rows: 60 massless hadrons each, unsorted, zero-padded."""
    rng = np.random.default_rng(seed)
    block = np.zeros((n, K))
    m = 60
    trip = np.stack(
        [rng.exponential(30, (n, m)) + 1.0, rng.normal(0, 1.5, (n, m)), rng.uniform(-np.pi, np.pi, (n, m))],
        axis=2,
    )
    block[:, : 3 * m] = trip.reshape(n, 3 * m)
    return block


def write_lhco(path: Path, block: np.ndarray, labels: np.ndarray | None) -> Path:
    """Write through the pandas-layout writer, bypassing its checks for label values."""
    with LHCOWriter(path, len(block), with_label=labels is not None) as w:
        w.write(block, labels)
    return path


def write_nano(
    path: Path, *, electron_pt: np.ndarray | None = None, muon_pt: np.ndarray | None = None
) -> Path:
    """A NanoAOD-like TTree (Events: Electron_*, Muon_*, Jet_* with DeepJet b-tag, genWeight)."""
    n, k = 6, 2
    rng = np.random.default_rng(1)
    counts = np.full(n, k)

    def jag(values: np.ndarray) -> ak.Array:
        return ak.unflatten(np.asarray(values), counts)

    def leptons(pt: np.ndarray | None) -> ak.Array:
        pt = rng.uniform(30, 100, n * k) if pt is None else pt
        return ak.zip(
            {
                "pt": jag(pt.astype(np.float32)),
                "eta": jag(rng.normal(0, 1, n * k).astype(np.float32)),
                "phi": jag(rng.uniform(-3, 3, n * k).astype(np.float32)),
                "mass": jag(np.zeros(n * k, np.float32)),
                "charge": jag(np.tile([1, -1], n).astype(np.int32)),
            }
        )

    jets = ak.zip(
        {
            "pt": jag(rng.uniform(30, 100, n * k).astype(np.float32)),
            "eta": jag(np.zeros(n * k, np.float32)),
            "phi": jag(np.linspace(-3, 3, n * k).astype(np.float32)),
            "mass": jag(np.full(n * k, 10, np.float32)),
            "btagDeepFlavB": jag(np.ones(n * k, np.float32)),
        }
    )
    data = {
        "Electron": leptons(electron_pt),
        "Muon": leptons(muon_pt),
        "Jet": jets,
        "genWeight": np.ones(n, np.float32),
    }
    with uproot.recreate(path) as f:
        tree = f.mktree(
            "Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        )
        tree.extend(data)
    return path


LHE_EVENT = """<event>
 4 1 {weight} 91.0 0.0078 0.118
 1 -1 0 0 501 0 0 0 100 100 0 0 9
 -1 -1 0 0 0 501 0 0 -50 50 0 0 9
 11 1 1 2 0 0 30 0 10 31.6228 0 0 9
 -11 1 1 2 0 0 -30 0 40 50 0 0 9
</event>
"""


def lhe_text(n_events: int = 3, weight: str = "1.0") -> str:
    head = '<LesHouchesEvents version="3.0">\n<header>\n</header>\n<init>\n2212 2212 6500 6500 0 0 0 0 3 1\n1.0 0.1 1.0 1\n</init>\n'
    return head + LHE_EVENT.format(weight=weight) * n_events + "</LesHouchesEvents>\n"


def idx_images(n: int, rows: int = 28, cols: int = 28, extra: bytes = b"") -> bytes:
    return struct.pack(">IIII", 2051, n, rows, cols) + bytes(n * rows * cols) + extra


def idx_labels(values: list[int]) -> bytes:
    return struct.pack(">II", 2049, len(values)) + bytes(values)


CICIDS_HEADER = " Destination Port, Flow Duration, Total Fwd Packets,Flow Bytes/s, Flow Packets/s, Label"
IMPROVED_HEADER = "id,Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Flow Bytes/s,Label,Attempted Category"


def cicids_csv(path: Path, rows: list[str], header: str = CICIDS_HEADER) -> Path:
    path.write_bytes((header + "\n" + "".join(r + "\n" for r in rows)).encode("cp1252"))
    return path


@dataclass
class Base:
    """Valid inputs shared by the cases (never modified: cases copy what they change)."""

    root: Path
    lhco: Path = field(init=False)
    table: Path = field(init=False)
    scores: Path = field(init=False)
    model: Path = field(init=False)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    b = Base(tmp_path_factory.mktemp("corpus_base"))
    b.lhco = write_lhco(b.root / "events.h5", lhco_block(12), np.r_[np.zeros(8), np.ones(4)])
    rng = np.random.default_rng(0)
    b.table = b.root / "table.parquet"
    write_table(
        b.table,
        rng.normal(size=(300, 3)),
        ["a", "b", "c"],
        labels=np.r_[np.zeros(250), np.ones(50)],
        types=["background"] * 250 + ["signal"] * 50,
        metadata={"dataset": "toy"},
    )
    b.model = b.root / "model"
    assert main(["train", "--features", str(b.table), "--method", "iforest", "-o", str(b.model)]) == 0
    b.scores = b.root / "scores.parquet"
    assert main(["score", str(b.model), str(b.table), "-o", str(b.scores)]) == 0
    return b


@dataclass
class Case:
    argv: list[str]
    expect: str  # a substring of the error line: the file or field at fault
    outputs: list[Path] = field(default_factory=list)  # must not exist afterwards
    protected: list[Path] = field(default_factory=list)  # must be unchanged


CASES: dict[str, Callable[[Base, Path], Case]] = {}


def case(name: str) -> Callable[[Callable[[Base, Path], Case]], Callable[[Base, Path], Case]]:
    def register(fn: Callable[[Base, Path], Case]) -> Callable[[Base, Path], Case]:
        assert name not in CASES, name
        CASES[name] = fn
        return fn

    return register


def copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


# ------------------------------------------------------------------ output == input, every command
@case("same-path/features-lhco")
def _(b: Base, t: Path) -> Case:
    f = copy(b.lhco, t / "in.h5")
    return Case(["features", "lhco", str(f), "-o", str(f)], "in.h5", protected=[f])


@case("same-path/features-lhco-dot-spelling")
def _(b: Base, t: Path) -> Case:
    f = copy(b.lhco, t / "in.h5")
    return Case(["features", "lhco", str(f), "-o", str(t / "." / "in.h5")], "in.h5", protected=[f])


@case("same-path/features-lhco-symlink")
def _(b: Base, t: Path) -> Case:
    f = copy(b.lhco, t / "in.h5")
    (t / "link.h5").symlink_to(f)
    return Case(["features", "lhco", str(f), "-o", str(t / "link.h5")], "link.h5", protected=[f])


@case("same-path/features-mnist")
def _(b: Base, t: Path) -> Case:
    f = t / "img.idx"
    f.write_bytes(idx_images(3))
    return Case(["features", "mnist", "--images", str(f), "-o", str(f)], "img.idx", protected=[f])


@case("same-path/features-cicids")
def _(b: Base, t: Path) -> Case:
    f = cicids_csv(t / "mon.csv", ["80,1,2,3,4,BENIGN"])
    return Case(["features", "cicids", str(f), "-o", str(f)], "mon.csv", protected=[f])


@case("same-path/features-vh")
def _(b: Base, t: Path) -> Case:
    f = write_nano(t / "zh.root")
    return Case(["features", "vh", str(f), "-o", str(f)], "zh.root", protected=[f])


@case("same-path/score")
def _(b: Base, t: Path) -> Case:
    f = copy(b.table, t / "t.parquet")
    return Case(["score", str(b.model), str(f), "-o", str(f)], "t.parquet", protected=[f])


@case("same-path/split-train-is-input")
def _(b: Base, t: Path) -> Case:
    f = copy(b.table, t / "t.parquet")
    argv = ["split", str(f), "--train", str(f), "--test", str(t / "test.parquet")]
    return Case(argv, "t.parquet", outputs=[t / "test.parquet"], protected=[f])


@case("same-path/split-train-is-test")
def _(b: Base, t: Path) -> Case:
    argv = ["split", str(b.table), "--train", str(t / "x.parquet"), "--test", str(t / "x.parquet")]
    return Case(argv, "--test", outputs=[t / "x.parquet"])


@case("same-path/train")
def _(b: Base, t: Path) -> Case:
    f = copy(b.table, t / "t.parquet")
    return Case(
        ["train", "--features", str(f), "--method", "iforest", "-o", str(f)], "t.parquet", protected=[f]
    )


@case("same-path/evaluate")
def _(b: Base, t: Path) -> Case:
    f = copy(b.scores, t / "s.parquet")
    return Case(["evaluate", str(f), "-o", str(f)], "s.parquet", protected=[f])


@case("same-path/evaluate-table-prefix")
def _(b: Base, t: Path) -> Case:
    argv = ["evaluate", str(b.scores), "--table", str(t / "m"), "-o", str(t / "m.md")]
    return Case(argv, "m.md", outputs=[t / "m.md", t / "m.csv"])


@case("same-path/plot")
def _(b: Base, t: Path) -> Case:
    f = copy(b.scores, t / "s.parquet")
    return Case(["plot", str(f), "-o", str(f)], "s.parquet", protected=[f])


@case("same-path/summary")
def _(b: Base, t: Path) -> Case:
    f = t / "table.md"
    f.write_text("| method | a |\n")
    return Case(["summary", str(f), "-o", str(f)], "table.md", protected=[f])


@case("same-path/merge-lhco")
def _(b: Base, t: Path) -> Case:
    f = copy(b.lhco, t / "a.h5")
    return Case(["generate", "merge-lhco", str(f), str(b.lhco), "-o", str(f)], "a.h5", protected=[f])


@case("same-path/coffea-score")
def _(b: Base, t: Path) -> Case:
    f = write_nano(t / "zh.root")
    return Case(["coffea-score", str(b.model), f"{f}:Events", "-o", str(f)], "zh.root", protected=[f])


@case("same-path/config-show")
def _(b: Base, t: Path) -> Case:
    f = t / "c.yaml"
    f.write_text("version: 1\n")
    return Case(["config", "show", str(f), "-o", str(f)], "c.yaml", protected=[f])


# ------------------------------------------------------------------ LHCO HDF5
def _lhco_case(
    t: Path, block: np.ndarray, labels: np.ndarray | None, *extra: str, expect: str = "bad.h5"
) -> Case:
    f = write_lhco(t / "bad.h5", block, labels)
    return Case(
        ["features", "lhco", str(f), *extra, "-o", str(t / "out.parquet")], expect, [t / "out.parquet"]
    )


@case("lhco/negative-pt")
def _(b: Base, t: Path) -> Case:
    block = lhco_block(5)
    block[3, 30] = -250.0  # a hadron with negative pT would be dropped as padding
    return _lhco_case(t, block, np.zeros(5), expect="negative pT in event(s) [3]")


@case("lhco/nan-label")
def _(b: Base, t: Path) -> Case:
    return _lhco_case(t, lhco_block(5), np.array([0, 1, np.nan, 0, 0]), expect="at event 2")


@case("lhco/label-7")
def _(b: Base, t: Path) -> Case:
    return _lhco_case(t, lhco_block(5), np.array([0, 7, 0, 0, 0]), expect="holds 7 at event 1")


@case("lhco/black-box-without-label")
def _(b: Base, t: Path) -> Case:
    return _lhco_case(t, lhco_block(5), None, expect="bad.h5: an LHCO file without a label column")


@case("lhco/delphes-without-label")
def _(b: Base, t: Path) -> Case:
    f = write_nano(t / "delphes.root")
    return Case(
        ["features", "lhco", str(f), "-o", str(t / "o.parquet")],
        "delphes.root: a Delphes file",
        [t / "o.parquet"],
    )


@case("lhco/nan-particle")
def _(b: Base, t: Path) -> Case:
    block = lhco_block(5)
    block[1, 4] = np.nan
    return _lhco_case(t, block, np.zeros(5), expect="NaN/Inf in particle columns of event(s) [1]")


@case("lhco/stop-before-start")
def _(b: Base, t: Path) -> Case:
    return _lhco_case(
        t, lhco_block(5), np.zeros(5), "--start", "4", "--stop", "2", expect="--stop 2 is before --start 4"
    )


@case("lhco/start-beyond-file")
def _(b: Base, t: Path) -> Case:
    return _lhco_case(t, lhco_block(5), np.zeros(5), "--start", "500", expect="--start 500 is beyond")


def _black_box_with_key(t: Path, key_text: str) -> Case:
    f = write_lhco(t / "bb.h5", lhco_block(4), None)
    key = t / "bb.masterkey"
    key.write_text(key_text)
    return Case(
        ["features", "lhco", str(f), "--masterkey", str(key), "-o", str(t / "o.parquet")],
        "bb.masterkey",
        [t / "o.parquet"],
    )


@case("lhco/masterkey-label-5")
def _(b: Base, t: Path) -> Case:
    return _black_box_with_key(t, "0\n1\n5\n0\n")


@case("lhco/masterkey-wrong-length")
def _(b: Base, t: Path) -> Case:
    return _black_box_with_key(t, "0\n1\n")


@case("lhco/masterkey-text")
def _(b: Base, t: Path) -> Case:
    return _black_box_with_key(t, "0\nsignal\n0\n0\n")


@case("lhco/masterkey-two-inputs")
def _(b: Base, t: Path) -> Case:
    key = t / "k.masterkey"
    key.write_text("0\n")
    argv = ["features", "lhco", str(b.lhco), str(b.lhco), "--masterkey", str(key), "-o", str(t / "o.parquet")]
    return Case(argv, "k.masterkey", [t / "o.parquet"])


@case("lhco/not-hdf5")
def _(b: Base, t: Path) -> Case:
    f = t / "events.h5"
    f.write_text("pT eta phi\n")
    return Case(
        ["features", "lhco", str(f), "-o", str(t / "o.parquet")],
        "events.h5: not an HDF5 file",
        [t / "o.parquet"],
    )


@case("lhco/truncated-hdf5")
def _(b: Base, t: Path) -> Case:
    f = t / "cut.h5"
    f.write_bytes(b.lhco.read_bytes()[: b.lhco.stat().st_size // 2])
    return Case(["features", "lhco", str(f), "-o", str(t / "o.parquet")], "cut.h5", [t / "o.parquet"])


@case("lhco/hdf5-without-df")
def _(b: Base, t: Path) -> Case:
    f = t / "other.h5"
    with h5py.File(f, "w") as h:
        h["x"] = np.zeros(3)
    return Case(
        ["features", "lhco", str(f), "-o", str(t / "o.parquet")],
        "other.h5: no /df/block0_values",
        [t / "o.parquet"],
    )


@case("lhco/wrong-column-count")
def _(b: Base, t: Path) -> Case:
    f = t / "features.h5"
    import pandas as pd

    pd.DataFrame(np.zeros((3, 15))).to_hdf(f, key="df", mode="w")
    return Case(
        ["features", "lhco", str(f), "--label", "0", "-o", str(t / "o.parquet")],
        "features.h5",
        [t / "o.parquet"],
    )


@case("lhco/missing-file")
def _(b: Base, t: Path) -> Case:
    return Case(
        ["features", "lhco", str(t / "nope.h5"), "-o", str(t / "o.parquet")],
        "nope.h5: file not found",
        [t / "o.parquet"],
    )


@case("lhco/merge-mixed-label-columns")
def _(b: Base, t: Path) -> Case:
    f = write_lhco(t / "bb.h5", lhco_block(3), None)
    argv = ["generate", "merge-lhco", str(b.lhco), str(f), "-o", str(t / "m.h5")]
    return Case(argv, "bb.h5: 2100 columns but", [t / "m.h5"])


@case("lhco/merge-high-level-file")
def _(b: Base, t: Path) -> Case:
    import pandas as pd

    f = t / "features.h5"
    pd.DataFrame(np.zeros((3, 15))).to_hdf(f, key="df", mode="w")
    argv = ["generate", "merge-lhco", str(b.lhco), str(f), "-o", str(t / "m.h5")]
    return Case(argv, "features.h5: 15 columns", [t / "m.h5"])


# ------------------------------------------------------------------ ROOT and LHE (features vh)
def _vh(t: Path, f: Path, expect: str, *extra: str) -> Case:
    return Case(["features", "vh", str(f), *extra, "-o", str(t / "o.parquet")], expect, [t / "o.parquet"])


@case("root/nan-electron-pt")
def _(b: Base, t: Path) -> Case:
    pt = np.full(12, 40.0)
    pt[5] = np.nan
    return _vh(t, write_nano(t / "nan.root", electron_pt=pt), "'Electron_pt'")


@case("root/negative-muon-pt")
def _(b: Base, t: Path) -> Case:
    pt = np.full(12, 40.0)
    pt[7] = -40.0
    return _vh(t, write_nano(t / "neg.root", muon_pt=pt), "negative value(s) in branch 'Muon_pt'")


@case("root/missing-branch")
def _(b: Base, t: Path) -> Case:
    f = t / "partial.root"
    with uproot.recreate(f) as h:
        h.mktree("Events", {"Jet_pt": np.float32}).extend({"Jet_pt": np.zeros(2, np.float32)})
    return _vh(t, f, "partial.root")


@case("root/junk")
def _(b: Base, t: Path) -> Case:
    f = t / "junk.root"
    f.write_bytes(b"root? no.")
    return _vh(t, f, "junk.root: not a readable ROOT file")


@case("root/truncated")
def _(b: Base, t: Path) -> Case:
    good = write_nano(t / "good.root")
    f = t / "cut.root"
    f.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return _vh(t, f, "cut.root")


@case("root/unknown-weight-branch")
def _(b: Base, t: Path) -> Case:
    return _vh(t, write_nano(t / "zh.root"), "SMEFTweight_nope", "--weight", "SMEFTweight_nope")


@case("lhe/truncated-at-30-percent")
def _(b: Base, t: Path) -> Case:
    text = lhe_text(10)
    f = t / "cut.lhe"
    f.write_text(text[: int(0.3 * len(text))])
    return _vh(t, f, "cut.lhe: LHE file is truncated")


@case("lhe/no-events")
def _(b: Base, t: Path) -> Case:
    f = t / "empty.lhe"
    f.write_text(lhe_text(0))
    return _vh(t, f, "empty.lhe: the LHE file holds no <event>")


@case("lhe/nan-weight")
def _(b: Base, t: Path) -> Case:
    f = t / "nanw.lhe"
    f.write_text(lhe_text(3, weight="nan"))
    return _vh(t, f, "nanw.lhe: NaN/Inf in the event weight")


@case("lhe/unknown-weight-id")
def _(b: Base, t: Path) -> Case:
    f = t / "w.lhe"
    f.write_text(lhe_text(3))
    return _vh(t, f, "no weight named 'rwgt_7'", "--weight", "rwgt_7")


@case("lhe/not-xml")
def _(b: Base, t: Path) -> Case:
    f = t / "bad.lhe"
    f.write_text("<LesHouchesEvents><event>1 2 3</broken>")
    return _vh(t, f, "bad.lhe")


# ------------------------------------------------------------------ MNIST IDX
def _mnist(t: Path, images: bytes, labels: bytes | None, expect: str, *extra: str) -> Case:
    img = t / "img-idx3-ubyte"
    img.write_bytes(images)
    argv = ["features", "mnist", "--images", str(img)]
    if labels is not None:
        lab = t / "lab-idx1-ubyte"
        lab.write_bytes(labels)
        argv += ["--labels", str(lab)]
    return Case([*argv, *extra, "-o", str(t / "o.parquet")], expect, [t / "o.parquet"])


@case("mnist/zero-images")
def _(b: Base, t: Path) -> Case:
    return _mnist(t, idx_images(0), None, "img-idx3-ubyte: the header announces 0 images")


@case("mnist/label-above-9")
def _(b: Base, t: Path) -> Case:
    return _mnist(
        t,
        idx_images(3),
        idx_labels([1, 12, 3]),
        "lab-idx1-ubyte: label 12 at index 1",
        "--protocol",
        "one-vs-rest",
    )


@case("mnist/truncated-images")
def _(b: Base, t: Path) -> Case:
    return _mnist(t, idx_images(3)[:-100], None, "img-idx3-ubyte: truncated")


@case("mnist/label-count-mismatch")
def _(b: Base, t: Path) -> Case:
    return _mnist(t, idx_images(3), idx_labels([1, 2]), "lab-idx1-ubyte: 2 labels for 3 images")


@case("mnist/labels-given-as-images")
def _(b: Base, t: Path) -> Case:
    return _mnist(t, idx_labels(list(range(10)) * 2), None, "img-idx3-ubyte: magic number 2049")


@case("mnist/8x8-images")
def _(b: Base, t: Path) -> Case:
    return _mnist(t, idx_images(3, 8, 8), None, "img-idx3-ubyte: images are 64 pixels")


@case("mnist/trailing-bytes")
def _(b: Base, t: Path) -> Case:
    return _mnist(t, idx_images(3, extra=b"\x00" * 10), None, "img-idx3-ubyte: 10 bytes more")


@case("mnist/corrupt-gzip")
def _(b: Base, t: Path) -> Case:
    img = t / "img.gz"
    img.write_bytes(b"\x1f\x8b\x08\x00garbage")
    return Case(
        ["features", "mnist", "--images", str(img), "-o", str(t / "o.parquet")],
        "img.gz: gzip stream",
        [t / "o.parquet"],
    )


# ------------------------------------------------------------------ CICIDS CSV
def _cicids(t: Path, files: dict[str, tuple[str, list[str]]], expect: str) -> Case:
    paths = [str(cicids_csv(t / name, rows, header)) for name, (header, rows) in files.items()]
    return Case(["features", "cicids", *paths, "-o", str(t / "o.parquet")], expect, [t / "o.parquet"])


@case("cicids/text-column")
def _(b: Base, t: Path) -> Case:
    rows = ["80,1,2,3,4,BENIGN", "80,1,two,3,4,BENIGN"]
    return _cicids(
        t,
        {"mon.csv": (CICIDS_HEADER, rows)},
        "mon.csv: column 'Total Fwd Packets' holds text 'two' at line 3",
    )


@case("cicids/header-only")
def _(b: Base, t: Path) -> Case:
    return _cicids(t, {"mon.csv": (CICIDS_HEADER, [])}, "mon.csv: has a header but no flows")


@case("cicids/infinity-in-every-row")
def _(b: Base, t: Path) -> Case:
    rows = ["80,1,2,Infinity,4,BENIGN", "80,1,2,Infinity,Infinity,BENIGN"]
    return _cicids(t, {"mon.csv": (CICIDS_HEADER, rows)}, "'Flow Bytes/s': 2")


@case("cicids/unknown-label")
def _(b: Base, t: Path) -> Case:
    rows = ["80,1,2,3,4,BENIGN", "80,1,2,3,4,Alien Attack"]
    return _cicids(
        t, {"tue.csv": (CICIDS_HEADER, rows)}, "tue.csv: unknown CICIDS2017 label 'Alien Attack' at line 3"
    )


@case("cicids/no-label-column")
def _(b: Base, t: Path) -> Case:
    return _cicids(t, {"x.csv": ("a,b,c", ["1,2,3"])}, "x.csv: no 'Label' column")


@case("cicids/row-without-label")
def _(b: Base, t: Path) -> Case:
    rows = ["80,1,2,3,4,BENIGN", "80,1,2,3,4,"]
    return _cicids(t, {"wed.csv": (CICIDS_HEADER, rows)}, "wed.csv: line 3 has flow values but no Label")


@case("cicids/empty-file")
def _(b: Base, t: Path) -> Case:
    f = t / "empty.csv"
    f.write_bytes(b"")
    return Case(
        ["features", "cicids", str(f), "-o", str(t / "o.parquet")],
        "empty.csv: the file is empty",
        [t / "o.parquet"],
    )


@case("cicids/mixed-layouts")
def _(b: Base, t: Path) -> Case:
    improved = ["1,f,1.1.1.1,5,2.2.2.2,80,6,2017-07-05 09:00,10,5.0,BENIGN,-1"]
    files = {"a.csv": (CICIDS_HEADER, ["80,1,2,3,4,BENIGN"]), "b.csv": (IMPROVED_HEADER, improved)}
    return _cicids(t, files, "b.csv: feature columns differ")


@case("cicids/improved-bad-attempted-category")
def _(b: Base, t: Path) -> Case:
    rows = ["1,f,1.1.1.1,5,2.2.2.2,80,6,2017-07-05 09:00,10,5.0,DoS Hulk,maybe"]
    return _cicids(
        t, {"thu.csv": (IMPROVED_HEADER, rows)}, "thu.csv: column 'Attempted Category' holds 'maybe'"
    )


@case("cicids/missing-folder")
def _(b: Base, t: Path) -> Case:
    return Case(
        ["features", "cicids", str(t / "MachineLearningCVE"), "-o", str(t / "o.parquet")],
        "MachineLearningCVE",
        [t / "o.parquet"],
    )


# ------------------------------------------------------------------ parquet tables (train / score / split / evaluate)
def _plain_parquet(path: Path, columns: dict[str, list[object]], meta: object) -> Path:
    table = pa.table(columns)
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata({b"hep_aa": raw}), path)
    return path


_META = {"feature_columns": ["a", "b"], "label_column": "label", "type_column": "anomaly_type"}


def _train(t: Path, table: Path, expect: str, *extra: str) -> Case:
    argv = ["train", "--features", str(table), "--method", "iforest", *extra, "-o", str(t / "model")]
    return Case(argv, expect, [t / "model"])


@case("table/corrupt-metadata-json")
def _(b: Base, t: Path) -> Case:
    f = _plain_parquet(t / "t.parquet", {"a": [1.0]}, b"{not json")
    return _train(t, f, "t.parquet: the hep_aa schema metadata is not valid JSON")


@case("table/metadata-without-feature-columns")
def _(b: Base, t: Path) -> Case:
    f = _plain_parquet(t / "t.parquet", {"a": [1.0]}, {"label_column": "label"})
    return _train(t, f, "t.parquet: the hep_aa schema metadata lacks 'feature_columns'")


@case("table/text-feature-column")
def _(b: Base, t: Path) -> Case:
    cols = {"a": ["1.0", "x"], "b": [1.0, 2.0], "label": [0, 0], "anomaly_type": ["background"] * 2}
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "t.parquet: feature column 'a'")


@case("table/text-labels")
def _(b: Base, t: Path) -> Case:
    cols = {"a": [1.0, 2.0], "b": [1.0, 2.0], "label": ["bkg", "sig"], "anomaly_type": ["background"] * 2}
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "t.parquet: label column 'label'")


@case("table/nan-labels")
def _(b: Base, t: Path) -> Case:
    cols = {
        "a": [1.0, 2.0],
        "b": [1.0, 2.0],
        "label": [0.0, float("nan")],
        "anomaly_type": ["background"] * 2,
    }
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "t.parquet: label column 'label'")


@case("table/label-7")
def _(b: Base, t: Path) -> Case:
    cols = {"a": [1.0, 2.0], "b": [1.0, 2.0], "label": [0, 7], "anomaly_type": ["background"] * 2}
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "(rows [1]: [7])")


@case("table/zero-rows")
def _(b: Base, t: Path) -> Case:
    cols = {
        "a": pa.array([], pa.float64()),
        "b": pa.array([], pa.float64()),
        "label": pa.array([], pa.int8()),
        "anomaly_type": pa.array([], pa.string()),
    }
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "t.parquet: the table has no rows")


@case("table/nan-feature")
def _(b: Base, t: Path) -> Case:
    cols = {"a": [1.0, float("nan")], "b": [1.0, 2.0], "label": [0, 0], "anomaly_type": ["background"] * 2}
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "NaN/Inf in feature column(s) ['a']")


@case("table/missing-listed-column")
def _(b: Base, t: Path) -> Case:
    cols = {"a": [1.0, 2.0], "label": [0, 0], "anomaly_type": ["background"] * 2}
    return _train(t, _plain_parquet(t / "t.parquet", cols, _META), "column(s) ['b'] listed")


@case("table/not-parquet")
def _(b: Base, t: Path) -> Case:
    f = t / "t.parquet"
    f.write_text("a,b\n1,2\n")
    return _train(t, f, "t.parquet: not a readable parquet file")


@case("train/n-known-negative")
def _(b: Base, t: Path) -> Case:
    return _train(t, b.table, "--n-known", "--n-known", "-5")


@case("train/needs-labelled-anomalies")
def _(b: Base, t: Path) -> Case:
    f = t / "bkg.parquet"
    write_table(
        f,
        np.random.default_rng(0).normal(size=(20, 3)),
        ["a", "b", "c"],
        labels=np.zeros(20),
        types="background",
    )
    argv = ["train", "--features", str(f), "--method", "supervised", "-o", str(t / "model")]
    return Case(argv, "bkg.parquet has no label-1 rows", [t / "model"])


@case("train/output-under-a-file")
def _(b: Base, t: Path) -> Case:
    argv = ["train", "--features", str(b.table), "--method", "iforest", "-o", "/dev/null/model"]
    return Case(argv, "/dev/null/model")


@case("train/output-folder-with-other-files")
def _(b: Base, t: Path) -> Case:
    folder = t / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    argv = ["train", "--features", str(b.table), "--method", "iforest", "-o", str(folder)]
    return Case(argv, "results: the folder exists and holds ['notes.txt']", protected=[folder / "notes.txt"])


@case("score/output-under-dev-null")
def _(b: Base, t: Path) -> Case:
    return Case(["score", str(b.model), str(b.table), "-o", "/dev/null/x.parquet"], "/dev/null/x.parquet")


@case("score/feature-mismatch")
def _(b: Base, t: Path) -> Case:
    f = t / "other.parquet"
    write_table(f, np.zeros((4, 2)), ["x", "y"], labels=np.zeros(4), types="background")
    return Case(
        ["score", str(b.model), str(f), "-o", str(t / "s.parquet")],
        "other.parquet: feature columns",
        [t / "s.parquet"],
    )


@case("split/different-feature-sets")
def _(b: Base, t: Path) -> Case:
    f = t / "other.parquet"
    write_table(f, np.zeros((4, 2)), ["x", "y"], labels=np.zeros(4), types="background")
    argv = ["split", str(b.table), str(f), "--train", str(t / "tr.parquet"), "--test", str(t / "te.parquet")]
    return Case(argv, "other.parquet: feature columns differ", [t / "tr.parquet", t / "te.parquet"])


@case("evaluate/feature-table-not-scores")
def _(b: Base, t: Path) -> Case:
    return Case(
        ["evaluate", str(b.table), "-o", str(t / "m.json")],
        "table.parquet: not a score table",
        [t / "m.json"],
    )


@case("evaluate/score-table-without-anomalies")
def _(b: Base, t: Path) -> Case:
    f = t / "bkg_scores.parquet"
    meta = {"kind": "scores", "method": "vae", "seed": 0}
    write_table(f, np.zeros((5, 1)), ["score"], labels=np.zeros(5), types="background", metadata=meta)
    return Case(
        ["evaluate", str(f), "-o", str(t / "m.json")], "bkg_scores.parquet: no anomaly", [t / "m.json"]
    )


@case("summary/missing-table")
def _(b: Base, t: Path) -> Case:
    return Case(
        ["summary", str(t / "none.md"), "-o", str(t / "s.md")], "none.md: file not found", [t / "s.md"]
    )


@case("summary/binary-table")
def _(b: Base, t: Path) -> Case:
    f = t / "table.md"
    f.write_bytes(b"\xff\xfe| method |\n")
    return Case(["summary", str(f), "-o", str(t / "s.md")], "table.md: not UTF-8 text", [t / "s.md"])


# ------------------------------------------------------------------ tampered model folders (score)
def _tampered(
    b: Base,
    t: Path,
    expect: str,
    edit: Callable[[dict], None] | None = None,
    files: Callable[[Path], None] | None = None,
) -> Case:
    model = copy(b.model, t / "model")
    if edit is not None:
        meta = json.loads((model / MODEL_SIDECAR).read_text())
        edit(meta)
        (model / MODEL_SIDECAR).write_text(json.dumps(meta))
    if files is not None:
        files(model)
    return Case(["score", str(model), str(b.table), "-o", str(t / "s.parquet")], expect, [t / "s.parquet"])


@case("model/no-hyperparameters")
def _(b: Base, t: Path) -> Case:
    return _tampered(b, t, "model.json: field 'hyperparameters'", lambda m: m.pop("hyperparameters"))


@case("model/class-os-system")
def _(b: Base, t: Path) -> Case:
    return _tampered(b, t, "model.json: field 'class'", lambda m: m.update({"class": "os.system"}))


@case("model/n-estimators-ten-million")
def _(b: Base, t: Path) -> Case:
    return _tampered(
        b, t, "hyperparameters.n_estimators", lambda m: m["hyperparameters"].update(n_estimators=10_000_000)
    )


@case("model/max-samples-text")
def _(b: Base, t: Path) -> Case:
    return _tampered(
        b, t, "hyperparameters.max_samples", lambda m: m["hyperparameters"].update(max_samples="all")
    )


@case("model/scaler-wrong-length")
def _(b: Base, t: Path) -> Case:
    return _tampered(b, t, "scaler.center", lambda m: m["scaler"].update(center=[0.0]))


@case("model/feature-names-not-a-list")
def _(b: Base, t: Path) -> Case:
    return _tampered(b, t, "field 'feature_names'", lambda m: m.update(feature_names="a,b,c"))


@case("model/format-version-1")
def _(b: Base, t: Path) -> Case:
    return _tampered(b, t, "model.json: model format v1", lambda m: m.update(format_version=1))


@case("model/weights-from-another-save")
def _(b: Base, t: Path) -> Case:
    def swap(model: Path) -> None:
        meta = json.loads((model / MODEL_SIDECAR).read_text())
        meta["save_id"] = "0" * 32
        (model / MODEL_SIDECAR).write_text(json.dumps(meta))

    return _tampered(b, t, "come from different saves", files=swap)


@case("model/pickle-renamed-safetensors")
def _(b: Base, t: Path) -> Case:
    import pickle

    def plant(model: Path) -> None:
        (model / MODEL_WEIGHTS).write_bytes(pickle.dumps({"train": [1, 2, 3]}))

    return _tampered(b, t, "model.safetensors: not a valid safetensors file", files=plant)


@case("model/missing-weights")
def _(b: Base, t: Path) -> Case:
    return _tampered(b, t, "no model.safetensors found", files=lambda m: (m / MODEL_WEIGHTS).unlink())


@case("model/not-json")
def _(b: Base, t: Path) -> Case:
    return _tampered(
        b, t, "model.json: not valid JSON", files=lambda m: (m / MODEL_SIDECAR).write_text("{'a': 1")
    )


@case("model/missing-folder")
def _(b: Base, t: Path) -> Case:
    return Case(
        ["score", str(t / "no-model"), str(b.table), "-o", str(t / "s.parquet")],
        "no-model",
        [t / "s.parquet"],
    )


# ------------------------------------------------------------------ the checks
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, base: Base, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = CASES[name](base, tmp_path)
    before = {p: _digest(p) for p in c.protected}
    listing = sorted(p.name for p in tmp_path.iterdir())
    code = main(c.argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("hep-aa: error: "), lines[0]
    assert "Traceback" not in captured.err
    assert c.expect in lines[0], lines[0]
    assert captured.out == ""
    for p in c.outputs:
        assert not p.exists(), f"{p} was written"
    for p, digest in before.items():
        assert _digest(p) == digest, f"{p} was changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == listing, "a file or temporary file was left behind"


def test_sigkill_of_train_between_weights_and_json_keeps_the_old_model(base: Base, tmp_path: Path) -> None:
    """Acceptance: kill `hep-aa train` after the weights are written, before model.json."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    from hep_aa.detector import load_detector
    from hep_aa.io.artifacts import read_table

    model = copy(base.model, tmp_path / "model")
    old_id = json.loads((model / MODEL_SIDECAR).read_text())["save_id"]
    x = read_table(base.table).features
    old_scores = load_detector(model).decision_function(x)
    script = textwrap.dedent(
        f"""
        import json, time
        from hep_aa.cli import main

        def stall(*args, **kwargs):  # model.safetensors is on disk; hang before model.json
            print("weights written", flush=True)
            time.sleep(120)

        json.dump = stall
        main(["train", "--features", {str(base.table)!r}, "--method", "iforest", "--seed", "3",
              "-o", {str(model)!r}])
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "weights written"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert json.loads((model / MODEL_SIDECAR).read_text())["save_id"] == old_id
    np.testing.assert_array_equal(load_detector(model).decision_function(x), old_scores)
    assert sorted(p.name for p in model.iterdir()) == sorted([MODEL_SIDECAR, MODEL_WEIGHTS])


def test_same_seed_and_thread_count_give_identical_models(base: Base, tmp_path: Path) -> None:
    """The reproducibility statement: same seed, same --threads, same torch build -> same bits."""
    import torch

    from hep_aa.io.artifacts import load_model_folder

    config = tmp_path / "c.yaml"
    config.write_text("version: 1\ntraining: {epochs: 3, finetune_epochs: 2, device: cpu}\n")
    before = torch.get_num_threads()
    try:
        for run in ("a", "b"):
            argv = ["train", "--features", str(base.table), "--method", "aa-vae", "--config", str(config)]
            assert main([*argv, "--seed", "4", "--threads", "1", "-o", str(tmp_path / run)]) == 0
    finally:
        torch.set_num_threads(before)
    (meta_a, arrays_a), (meta_b, arrays_b) = (load_model_folder(tmp_path / r) for r in ("a", "b"))
    assert meta_a["provenance"]["torch_threads"] == meta_b["provenance"]["torch_threads"] == 1
    assert meta_a["save_id"] != meta_b["save_id"]
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key])


def test_paths_with_spaces_and_unicode_still_work(base: Base, tmp_path: Path) -> None:
    """The output-equals-input guard compares resolved paths; ordinary odd names pass."""
    folder = tmp_path / "my results ü"
    folder.mkdir()
    table = copy(base.table, folder / "tâble 1.parquet")
    model = folder / "modèle iforest"
    assert main(["train", "--features", str(table), "--method", "iforest", "-o", str(model)]) == 0
    assert main(["score", str(model), str(table), "-o", str(folder / "scöres.parquet")]) == 0
    assert (folder / "scöres.parquet").is_file()
