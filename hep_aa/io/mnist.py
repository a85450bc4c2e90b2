"""MNIST-format (IDX) images and labels, CIFAR-10 python batches, and scikit-learn's digits.

IDX (big-endian): images — magic 2051, N, rows, cols, then N·rows·cols uint8; labels —
magic 2049, N, then N uint8. Files may be gzip-compressed (``.gz``). Fashion-MNIST uses the
same format and names. Images are returned as float32 in [0, 1], shape (N, rows·cols).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from hep_aa.exceptions import DataFormatError

__all__ = ["digits_as_mnist", "find_idx_pair", "read_cifar10_batch", "read_idx_images", "read_idx_labels"]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataFormatError(f"{path}: gzip stream is truncated or corrupt ({exc})") from None
    return raw


def read_idx_images(path: str | os.PathLike[str]) -> np.ndarray:
    """Images of an IDX3 file as float32 in [0, 1], shape (N, rows·cols).

    Raises
    ------
    DataFormatError
        Wrong magic number, bad dimensions or fewer bytes than the header announces.
    """
    p = Path(path)
    data = _read_bytes(p)
    if len(data) < 16:
        raise DataFormatError(f"{p}: {len(data)} bytes is too short for an IDX image header (16 bytes)")
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IMAGES_MAGIC:
        hint = " (this is a labels file)" if magic == LABELS_MAGIC else ""
        raise DataFormatError(f"{p}: magic number {magic}, expected {IMAGES_MAGIC} for IDX images{hint}")
    if rows == 0 or cols == 0:
        raise DataFormatError(f"{p}: image size {rows}x{cols} is invalid")
    if n == 0:
        raise DataFormatError(f"{p}: the header announces 0 images; the file holds no data")
    expected = 16 + n * rows * cols
    if len(data) < expected:
        raise DataFormatError(
            f"{p}: truncated: header announces {n} images of {rows}x{cols} ({expected} bytes) but the file has {len(data)}"
        )
    if len(data) > expected:
        raise DataFormatError(
            f"{p}: {len(data) - expected} bytes more than the {n} images of {rows}x{cols} the header "
            "announces; the file is corrupt or two files were concatenated"
        )
    pixels = np.frombuffer(data, dtype=np.uint8, count=n * rows * cols, offset=16)
    return (pixels.reshape(n, rows * cols).astype(np.float32)) / 255.0


def read_idx_labels(path: str | os.PathLike[str], *, n_classes: int | None = None) -> np.ndarray:
    """Labels of an IDX1 file, shape (N,), uint8.

    Parameters
    ----------
    n_classes : int, optional
        Refuse labels >= ``n_classes`` (10 for MNIST and Fashion-MNIST).
    """
    p = Path(path)
    data = _read_bytes(p)
    if len(data) < 8:
        raise DataFormatError(f"{p}: {len(data)} bytes is too short for an IDX label header (8 bytes)")
    magic, n = struct.unpack(">II", data[:8])
    if magic != LABELS_MAGIC:
        hint = " (this is an images file)" if magic == IMAGES_MAGIC else ""
        raise DataFormatError(f"{p}: magic number {magic}, expected {LABELS_MAGIC} for IDX labels{hint}")
    if n == 0:
        raise DataFormatError(f"{p}: the header announces 0 labels; the file holds no data")
    if len(data) < 8 + n:
        raise DataFormatError(f"{p}: truncated: header announces {n} labels but the file has {len(data) - 8}")
    if len(data) > 8 + n:
        raise DataFormatError(
            f"{p}: {len(data) - 8 - n} bytes more than the {n} labels the header announces; the file is corrupt"
        )
    labels = np.frombuffer(data, dtype=np.uint8, count=n, offset=8).copy()
    if n_classes is not None and labels.max() >= n_classes:
        bad = np.flatnonzero(labels >= n_classes)
        raise DataFormatError(
            f"{p}: label {int(labels[bad[0]])} at index {int(bad[0])} ({len(bad)} label(s) >= {n_classes}); "
            f"MNIST-format class labels are 0-{n_classes - 1}"
        )
    return labels


def find_idx_pair(folder: str | os.PathLike[str], split: str = "t10k") -> tuple[Path, Path]:
    """``{split}-images-idx3-ubyte[.gz]`` and ``{split}-labels-idx1-ubyte[.gz]`` in ``folder``."""
    d = Path(folder)
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [d / f"{split}-{kind}", d / f"{split}-{kind}.gz"]
        match = next((c for c in candidates if c.is_file()), None)
        if match is None:
            raise DataFormatError(
                f"{d}: no {split}-{kind}[.gz]; point to a folder with MNIST-format IDX files"
            )
        found.append(match)
    return found[0], found[1]


def read_cifar10_batch(path: str | os.PathLike[str], *, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch as greyscale ``side``×``side`` images in [0, 1] and labels.

    The pickle holds only ``b'data'`` (N×3072 uint8, R, G, B planes) and ``b'labels'``; it is
    read with a restricted unpickler that allows plain containers and NumPy arrays only.
    Greyscale uses ITU-R BT.601 luma; 32×32 → 28×28 by a centre crop.
    """
    p = Path(path)

    allowed = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    class _Plain(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            if (module, name) in allowed:  # plain NumPy arrays, as the real batches hold
                return super().find_class(module, name)
            raise DataFormatError(f"{p}: refusing to unpickle {module}.{name}; not a CIFAR-10 python batch")

    try:
        with p.open("rb") as fh:
            batch = _Plain(fh, encoding="bytes").load()
    except FileNotFoundError:
        raise DataFormatError(f"{p}: file not found") from None
    except DataFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DataFormatError(f"{p}: not a CIFAR-10 python batch ({exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataFormatError(f"{p}: missing b'data' or b'labels'")
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise DataFormatError(f"{p}: b'data' has shape {data.shape}, expected (N, 3072)")
    rgb = data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    grey = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    off = (32 - side) // 2
    grey = grey[:, off : off + side, off : off + side]
    return grey.reshape(len(grey), side * side), np.asarray(batch[b"labels"], dtype=np.int64)


def digits_as_mnist() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's offline 8×8 digits (1797 images) upsampled to 28×28 in [0, 1].

    Each 8×8 image (values 0–16) is enlarged ×3 by pixel repetition to 24×24 and padded by 2
    pixels per side, like MNIST's centred 20×20 digits in a 28×28 frame.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    imgs = digits.images.astype(np.float32) / 16.0
    big = np.repeat(np.repeat(imgs, 3, axis=1), 3, axis=2)
    framed = np.pad(big, ((0, 0), (2, 2), (2, 2)))
    return framed.reshape(len(framed), 784), digits.target.astype(np.uint8)
