from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hep_aa.cli import main
from hep_aa.io.artifacts import read_table


def test_paper_protocol_on_digits(tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    assert main(["features", "mnist", "--n-per-kind", "50", "--known-kind", "occluded", "-o", str(out)]) == 0
    t = read_table(out)
    assert t.features.shape[1] == 784
    # the 50 digits the synthetic kinds are built from are held out of the background
    assert (t.labels == 0).sum() == 1797 - 50
    counts = {k: int((t.types == k).sum()) for k in set(t.types)}
    assert counts == {
        "background": 1797 - 50,
        "noise": 50,
        "inverted": 50,
        "rotated": 50,
        "occluded": 50,
        "superimposed": 50,
    }
    assert t.metadata["known_type"] == "occluded"
    assert t.metadata["model_hints"]["decoder"] == "bernoulli"
    # no unseen anomaly derives from a background (trainable) digit: "inverted" is exactly
    # 1 - x of its source digit, and none of the sources is in the background
    background = {row.tobytes() for row in t.features[t.labels == 0].astype(np.float32)}
    sources = (1.0 - t.features[t.types == "inverted"]).astype(np.float32)
    assert not any(row.tobytes() in background for row in sources)


def test_one_vs_rest(tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    assert (
        main(
            [
                "features",
                "mnist",
                "--protocol",
                "one-vs-rest",
                "--normal-class",
                "3",
                "--known-class",
                "5",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    t = read_table(out)
    assert set(t.types) == {"background"} | {f"digit-{d}" for d in range(10) if d not in (3, 5)} | {
        "digit-5 (known)"
    }
    assert np.all(t.labels[t.types == "background"] == 0)


def test_real_mnist_with_fashion(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "r.parquet"
    args = ["features", "mnist", "--images", str(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")]
    args += ["--labels", str(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz"), "--n-per-kind", "100"]
    args += [
        "--known-images",
        str(shared_data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"),
        "-o",
        str(out),
    ]
    assert main(args) == 0
    t = read_table(out)
    assert (t.types == "fashion-mnist").sum() == 100
    assert (t.labels == 0).sum() == 10000 - 100  # the held-out pool of the synthetic kinds


def test_mismatched_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import struct

    (tmp_path / "i").write_bytes(struct.pack(">IIII", 2051, 2, 28, 28) + bytes(2 * 784))
    (tmp_path / "l").write_bytes(struct.pack(">II", 2049, 3) + bytes(3))
    assert (
        main(
            [
                "features",
                "mnist",
                "--images",
                str(tmp_path / "i"),
                "--labels",
                str(tmp_path / "l"),
                "-o",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "3 labels for 2 images" in capsys.readouterr().err
