from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hep_aa.cli import main
from hep_aa.exceptions import DataFormatError
from hep_aa.io.artifacts import read_table
from hep_aa.io.cicids import family_of, iter_cicids, normalise_label, read_cicids

# The real header: leading spaces on most names, none on some, "Fwd Header Length" twice.
HEADER = (
    " Destination Port, Flow Duration, Total Fwd Packets,Total Length of Fwd Packets,Flow Bytes/s,"
    " Flow Packets/s, Fwd Header Length, Fwd Header Length,Init_Win_bytes_forward, Init_Win_bytes_backward, Label"
)
ROWS = [
    "80,100,2,120,1200.5,20000,40,40,8192,-1,BENIGN",
    "443,5,1,0,Infinity,Infinity,20,20,-1,-1,BENIGN",
    "22,300,3,90,,3.1,60,60,29200,235,SSH-Patator",
    "80,1000,5,500,500000,5000,100,100,-1,256,DoS Hulk",
]


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_bytes((header + "\n" + "\n".join(rows) + "\n").encode("cp1252"))
    return path


def test_quirks(tmp_path: Path) -> None:
    web = "80,10,1,10,100,100,20,20,-1,-1,Web Attack \x96 Brute Force".encode("latin-1").decode("cp1252")
    _write(tmp_path / "Tuesday-WorkingHours.pcap_ISCX.csv", [*ROWS, web])
    t = read_cicids(tmp_path)
    assert "Destination Port" in t.feature_names
    assert t.feature_names.count("Fwd Header Length") == 1
    assert len(t.feature_names) == 9
    assert t.n_dropped_nonfinite == 2  # Infinity row and empty Flow Bytes/s row
    assert list(t.labels) == ["BENIGN", "DoS Hulk", "Web Attack - Brute Force"]
    assert list(t.families) == ["BENIGN", "DoS", "Web Attack"]
    j = t.feature_names.index("Init_Win_bytes_backward")
    assert t.features[0, j] == -1.0  # placeholder kept


def test_invalid_utf8_byte_is_handled(tmp_path: Path) -> None:
    raw = (HEADER + "\n" + "80,10,1,10,100,100,20,20,-1,-1,Web Attack ").encode() + b"\x96" + b" XSS\n"
    (tmp_path / "thu.csv").write_bytes(raw)
    (chunk,) = list(iter_cicids(tmp_path / "thu.csv"))
    assert list(chunk.labels) == ["Web Attack - XSS"]


def test_generated_labelled_flows_variant_matches(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", ROWS[:1])
    extra = "Flow ID, Source IP, Source Port, Destination IP, Protocol, Timestamp," + HEADER
    _write(tmp_path / "b.csv", ["1-2-3,10.0.0.1,5555,10.0.0.2,6,7/7/2017 8:55," + ROWS[0]], extra)
    a = read_cicids(tmp_path / "a.csv")
    b = read_cicids(tmp_path / "b.csv")
    assert a.feature_names == b.feature_names
    np.testing.assert_array_equal(a.features, b.features)


@pytest.mark.parametrize(
    ("label", "family"),
    [
        ("BENIGN", "BENIGN"),
        ("DDoS", "DDoS"),
        ("DoS slowloris", "DoS"),
        ("PortScan", "PortScan"),
        ("Bot", "Bot"),
        ("FTP-Patator", "Brute Force"),
        ("Infiltration", "Infiltration"),
        ("Heartbleed", "Heartbleed"),
        ("Web Attack \u2013 Sql Injection", "Web Attack"),
    ],
)
def test_families(label: str, family: str) -> None:
    assert family_of(normalise_label(label)) == family


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no such CSV"):
        read_cicids(tmp_path / "missing")
    _write(tmp_path / "x.csv", ["1,2,3"], header="a,b,c")
    with pytest.raises(DataFormatError, match="no 'Label' column"):
        read_cicids(tmp_path / "x.csv")
    _write(tmp_path / "y.csv", ["80,100,2,120,1200.5,20000,40,40,8192,-1,Alien Attack"])
    with pytest.raises(DataFormatError, match="unknown CICIDS2017 label"):
        read_cicids(tmp_path / "y.csv")


def test_cli_features_cicids(tmp_path: Path) -> None:
    _write(tmp_path / "mon.csv", ROWS)
    out = tmp_path / "c.parquet"
    assert main(["features", "cicids", str(tmp_path / "mon.csv"), "-o", str(out)]) == 0
    t = read_table(out)
    assert list(t.labels) == [0, 1]  # the Infinity and the empty-value rows are dropped
    assert list(t.types) == ["background", "DoS"]
    assert t.metadata["model_hints"] == {"scaler": "log-robust"}
    assert t.metadata["n_dropped_nonfinite"] == 2
    assert list(t.spectators["original_label"]) == ["BENIGN", "DoS Hulk"]
