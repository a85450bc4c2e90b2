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


# Improved CICIDS2017 (Engelen, Rimmer, Joosen 2021): no leading spaces, identifiers first,
# "Label" and "Attempted Category" last, ICMP Code/Type with -1 placeholders.
IMPROVED_FEATURES = [
    "Dst Port",
    "Flow Duration",
    "Total Fwd Packet",
    "Total Bwd packets",
    "Total Length of Fwd Packet",
    "Total Length of Bwd Packet",
    "Fwd Packet Length Max",
    "Fwd Packet Length Min",
    "Fwd Packet Length Mean",
    "Fwd Packet Length Std",
    "Bwd Packet Length Max",
    "Bwd Packet Length Min",
    "Bwd Packet Length Mean",
    "Bwd Packet Length Std",
    "Flow Bytes/s",
    "Flow Packets/s",
    "Flow IAT Mean",
    "Flow IAT Std",
    "Flow IAT Max",
    "Flow IAT Min",
    "Fwd IAT Total",
    "Fwd IAT Mean",
    "Fwd IAT Std",
    "Fwd IAT Max",
    "Fwd IAT Min",
    "Bwd IAT Total",
    "Bwd IAT Mean",
    "Bwd IAT Std",
    "Bwd IAT Max",
    "Bwd IAT Min",
    "Fwd PSH Flags",
    "Bwd PSH Flags",
    "Fwd URG Flags",
    "Bwd URG Flags",
    "Fwd RST Flags",
    "Bwd RST Flags",
    "Fwd Header Length",
    "Bwd Header Length",
    "Fwd Packets/s",
    "Bwd Packets/s",
    "Packet Length Min",
    "Packet Length Max",
    "Packet Length Mean",
    "Packet Length Std",
    "Packet Length Variance",
    "FIN Flag Count",
    "SYN Flag Count",
    "RST Flag Count",
    "PSH Flag Count",
    "ACK Flag Count",
    "URG Flag Count",
    "CWR Flag Count",
    "ECE Flag Count",
    "Down/Up Ratio",
    "Average Packet Size",
    "Fwd Segment Size Avg",
    "Bwd Segment Size Avg",
    "Fwd Bytes/Bulk Avg",
    "Fwd Packet/Bulk Avg",
    "Fwd Bulk Rate Avg",
    "Bwd Bytes/Bulk Avg",
    "Bwd Packet/Bulk Avg",
    "Bwd Bulk Rate Avg",
    "Subflow Fwd Packets",
    "Subflow Fwd Bytes",
    "Subflow Bwd Packets",
    "Subflow Bwd Bytes",
    "FWD Init Win Bytes",
    "Bwd Init Win Bytes",
    "Fwd Act Data Pkts",
    "Fwd Seg Size Min",
    "Active Mean",
    "Active Std",
    "Active Max",
    "Active Min",
    "Idle Mean",
    "Idle Std",
    "Idle Max",
    "Idle Min",
    "ICMP Code",
    "ICMP Type",
    "Total TCP Flow Time",
]
IMPROVED_HEADER = ",".join(
    [
        "id",
        "Flow ID",
        "Src IP",
        "Src Port",
        "Dst IP",
        *IMPROVED_FEATURES[:1],
        "Protocol",
        "Timestamp",
        *IMPROVED_FEATURES[1:],
        "Label",
        "Attempted Category",
    ]
)


def _improved_row(i: int, label: str, attempted: int, flow_bytes: str = "1200.5") -> str:
    ident = [str(i), f"192.168.10.5-8.8.8.8-{5000 + i}-80-6", "192.168.10.5", str(5000 + i), "8.8.8.8"]
    values = ["80", "6", "2017-07-05 09:00:00.123456"]  # Dst Port, Protocol, Timestamp
    numbers = [str(10 * i + j) for j in range(len(IMPROVED_FEATURES) - 1)]
    numbers[IMPROVED_FEATURES.index("Flow Bytes/s") - 1] = flow_bytes
    numbers[IMPROVED_FEATURES.index("ICMP Code") - 1] = "-1"
    return ",".join([*ident, *values, *numbers, label, str(attempted)])


IMPROVED_ROWS = [
    _improved_row(1, "BENIGN", -1),
    _improved_row(2, "DoS Hulk", -1),
    _improved_row(3, "DoS Hulk - Attempted", 0),
    _improved_row(4, "Portscan", -1),
    _improved_row(5, "Infiltration - Portscan", -1),
    _improved_row(6, "Botnet", -1),
    _improved_row(7, "Web Attack - Brute Force", -1),
    _improved_row(8, "Web Attack - XSS - Attempted", 3),
    _improved_row(9, "FTP-Patator", -1, flow_bytes=""),  # empty Flow Bytes/s: dropped
    _improved_row(10, "Heartbleed", -1, flow_bytes="Infinity"),  # dropped
]


def test_improved_layout_detected_and_mapped(tmp_path: Path) -> None:
    path = _write(tmp_path / "wednesday.csv", IMPROVED_ROWS, IMPROVED_HEADER)
    assert len(IMPROVED_HEADER.split(",")) == 91
    t = read_cicids(path)
    assert t.layout == "improved"
    assert len(t.feature_names) == 82  # 91 minus id, Flow ID, IPs, Src Port, Protocol, Timestamp, labels
    assert t.feature_names[0] == "Dst Port"
    assert not {"id", "Src IP", "Timestamp", "Protocol", "Attempted Category"} & set(t.feature_names)
    assert t.n_dropped_nonfinite == 2
    assert t.nonfinite_columns == {"Flow Bytes/s": 2}
    assert list(t.labels) == [
        "BENIGN",
        "DoS Hulk",
        "DoS Hulk - Attempted",
        "Portscan",
        "Infiltration - Portscan",
        "Botnet",
        "Web Attack - Brute Force",
        "Web Attack - XSS - Attempted",
    ]
    # same families as the original layout's PortScan, Bot, Infiltration, Web Attack; attempted = benign
    assert list(t.families) == [
        "BENIGN",
        "DoS",
        "BENIGN",
        "PortScan",
        "Infiltration",
        "Bot",
        "Web Attack",
        "BENIGN",
    ]
    assert t.n_attempted == 2
    j = t.feature_names.index("ICMP Code")
    assert t.features[0, j] == -1.0  # placeholder kept
    assert t.features[1, t.feature_names.index("Flow Duration")] == 20.0


def test_improved_layout_attempted_drop_and_cli(tmp_path: Path) -> None:
    path = _write(tmp_path / "wednesday.csv", IMPROVED_ROWS, IMPROVED_HEADER)
    dropped = read_cicids(path, attempted="drop")
    assert "DoS Hulk - Attempted" not in list(dropped.labels)
    assert len(dropped.labels) == 6
    assert dropped.n_attempted == 2
    out = tmp_path / "c.parquet"
    assert main(["features", "cicids", str(path), "--attempted", "drop", "-o", str(out)]) == 0
    table = read_table(out)
    assert list(table.types) == ["background", "DoS", "PortScan", "Infiltration", "Bot", "Web Attack"]
    assert table.metadata["layout"] == "improved"
    assert table.metadata["attempted"] == {"policy": "drop", "n": 2}


def test_attempted_category_column_decides(tmp_path: Path) -> None:
    """A flow flagged by the column counts as attempted even when its label does not say so."""
    rows = [_improved_row(1, "BENIGN", -1), _improved_row(2, "SSH-Patator", 5)]
    t = read_cicids(_write(tmp_path / "tue.csv", rows, IMPROVED_HEADER))
    assert list(t.families) == ["BENIGN", "BENIGN"]
    assert t.n_attempted == 1


def test_improved_and_original_layouts_do_not_mix(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", ROWS, HEADER)
    _write(tmp_path / "b.csv", IMPROVED_ROWS[:2], IMPROVED_HEADER)
    with pytest.raises(DataFormatError, match="mixed CICIDS2017 layouts"):
        read_cicids(tmp_path)


def test_text_empty_and_all_infinity_are_errors(tmp_path: Path) -> None:
    _write(
        tmp_path / "t.csv",
        ["80,100,2,120,1200.5,20000,40,40,8192,-1,BENIGN", "80,x,2,120,1,2,40,40,1,1,BENIGN"],
    )
    with pytest.raises(DataFormatError, match=r"t\.csv: column 'Flow Duration' holds text 'x' at line 3"):
        read_cicids(tmp_path / "t.csv")
    _write(tmp_path / "h.csv", [])
    with pytest.raises(DataFormatError, match=r"h\.csv: has a header but no flows"):
        read_cicids(tmp_path / "h.csv")
    _write(tmp_path / "i.csv", ["443,5,1,0,Infinity,Infinity,20,20,-1,-1,BENIGN"])
    with pytest.raises(DataFormatError, match=r"no flow left after dropping 1 row"):
        read_cicids(tmp_path / "i.csv")


def test_blank_lines_are_dropped_and_counted(tmp_path: Path) -> None:
    """The Thursday WebAttacks file ends with many comma-only lines."""
    _write(tmp_path / "thu.csv", [*ROWS[:1], ",,,,,,,,,,", ",,,,,,,,,,"])
    t = read_cicids(tmp_path / "thu.csv")
    assert list(t.labels) == ["BENIGN"]
    assert t.n_dropped_nonfinite == 2
