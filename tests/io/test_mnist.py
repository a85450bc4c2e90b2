from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from hep_aa.exceptions import DataFormatError
from hep_aa.io.mnist import (
    digits_as_mnist,
    find_idx_pair,
    read_cifar10_batch,
    read_idx_images,
    read_idx_labels,
)


def _idx_images(n: int, rows: int = 28, cols: int = 28, magic: int = 2051) -> tuple[bytes, np.ndarray]:
    pixels = np.random.default_rng(0).integers(0, 256, (n, rows, cols), dtype=np.uint8)
    return struct.pack(">IIII", magic, n, rows, cols) + pixels.tobytes(), pixels


def test_images_and_labels_raw_and_gzip(tmp_path: Path) -> None:
    raw, pixels = _idx_images(5)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(struct.pack(">II", 2049, 5) + bytes([3, 1, 4, 1, 5]))
    )
    images, labels = find_idx_pair(tmp_path)
    x = read_idx_images(images)
    assert x.shape == (5, 784)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[2], pixels[2].ravel() / 255.0)
    np.testing.assert_array_equal(read_idx_labels(labels), [3, 1, 4, 1, 5])


def test_wrong_magic_and_truncation(tmp_path: Path) -> None:
    raw, _ = _idx_images(3, magic=2049)
    (tmp_path / "a").write_bytes(raw)
    with pytest.raises(DataFormatError, match=r"magic number 2049, expected 2051 .*labels file"):
        read_idx_images(tmp_path / "a")
    raw, _ = _idx_images(3)
    (tmp_path / "b").write_bytes(raw[:-10])
    with pytest.raises(DataFormatError, match="truncated: header announces 3 images"):
        read_idx_images(tmp_path / "b")
    (tmp_path / "c.gz").write_bytes(gzip.compress(raw)[:-20])
    with pytest.raises(DataFormatError, match="gzip stream is truncated"):
        read_idx_images(tmp_path / "c.gz")
    (tmp_path / "d").write_bytes(struct.pack(">II", 2049, 10) + b"\x01\x02")
    with pytest.raises(DataFormatError, match="truncated: header announces 10 labels"):
        read_idx_labels(tmp_path / "d")
    with pytest.raises(DataFormatError, match="no t10k-images"):
        find_idx_pair(tmp_path)


def test_cifar_batch_to_grey(tmp_path: Path) -> None:
    data = np.zeros((2, 3072), dtype=np.uint8)
    data[0, :1024] = 255  # pure red image
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": data, b"labels": [3, 7]}))
    x, y = read_cifar10_batch(tmp_path / "test_batch")
    assert x.shape == (2, 784)
    np.testing.assert_allclose(x[0], 0.299, rtol=1e-6)
    np.testing.assert_array_equal(y, [3, 7])

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (print, ("pwned",))

    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(DataFormatError, match="refusing to unpickle"):
        read_cifar10_batch(tmp_path / "evil")


def test_digits_fallback() -> None:
    x, y = digits_as_mnist()
    assert x.shape == (1797, 784)
    assert x.min() >= 0.0
    assert x.max() <= 1.0
    assert set(np.unique(y)) == set(range(10))


def test_real_mnist_test_set(shared_data: Path) -> None:
    images = shared_data / "mnist" / "t10k-images-idx3-ubyte.gz"
    assert hashlib.sha256(images.read_bytes()).hexdigest().startswith("8d422c7b")
    x = read_idx_images(images)
    y = read_idx_labels(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 784)
    assert np.bincount(y).tolist()[:2] == [980, 1135]
    fashion = read_idx_images(shared_data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
    assert fashion.shape == (10000, 784)
