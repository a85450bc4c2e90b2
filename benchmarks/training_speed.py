"""Training speed: this checkout's loops against a reference commit's, and the batch-size default.

Three measurements, each side by side in one process:

``compare``
    The reference commit's ``hep_aa/models/vae.py`` and ``hep_aa/training/loops.py`` (read with
    ``git show REF:...`` into a temporary package) against this checkout's, alternating, on
    (a) one pretrain epoch of 1M events × 5 features (MLP VAE 5-64-32-4, Gaussian decoder,
    the workflow's default network), (b) one epoch of the paper's MNIST network 784-400-20
    (Bernoulli decoder) on real MNIST/Fashion-MNIST images, and (c) a bare PyTorch loop (same
    steps, no statistics, no validation) for the loop's own overhead. It also checks that the
    Gaussian-decoder histories of both versions are identical to the last digit and reports
    the relative change of the Bernoulli ones (the loss is now computed from the logits).
``batch``
    Time per epoch and anomaly AUROC of a plain VAE and its Anomaly Awareness fine-tune at
    several batch sizes on a large real table: Fashion-MNIST training images of eight classes
    (48,000 rows) as the normal data, 200 images of a ninth class as the known anomalies, the
    tenth never shown; AUROCs on the t10k images.
``compile``
    ``torch.compile`` of the VAE on CPU: compile time against the per-epoch gain.

    python benchmarks/training_speed.py compare [--reference REF] [--repeats 3]
    python benchmarks/training_speed.py batch --data ../shared/data [--batch-sizes 256 1024] [--seeds 0 1]
    python benchmarks/training_speed.py compile
"""

from __future__ import annotations

import argparse
import copy
import importlib
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch

from hep_aa.models import MLPVAE
from hep_aa.training import loops as new_loops
from hep_aa.training.loops import _adam

ROOT = Path(__file__).resolve().parent.parent
#: the last commit before the logits loss and the sync-free loops
DEFAULT_REFERENCE = "2d2318c"


def load_reference(ref: str) -> tuple[types.ModuleType, types.ModuleType]:
    """The reference commit's ``vae`` and ``loops`` modules, imported from a temporary package."""
    pkg = Path(tempfile.mkdtemp(prefix="hep_aa_ref_")) / "hep_aa_ref"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, path in (("vae", "hep_aa/models/vae.py"), ("loops", "hep_aa/training/loops.py")):
        text = subprocess.run(
            ["git", "show", f"{ref}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        (pkg / f"{name}.py").write_text(
            text.replace("from hep_aa.models.vae import", "from hep_aa_ref.vae import")
        )
    sys.path.insert(0, str(pkg.parent))
    return importlib.import_module("hep_aa_ref.vae"), importlib.import_module("hep_aa_ref.loops")


def mnist_like(data: Path | None, n: int) -> tuple[np.ndarray, str]:
    """``n`` real images in [0, 1] (Fashion-MNIST train, else MNIST t10k), or uniform noise."""
    from hep_aa.io.mnist import find_idx_pair, read_idx_images

    for sub, split in (("fashion-mnist", "train"), ("mnist", "t10k")):
        if data is not None and (data / sub).is_dir():
            images, _ = find_idx_pair(data / sub, split)
            x = read_idx_images(images).reshape(-1, 784).astype(np.float32) / 255.0
            reps = math.ceil(n / len(x))
            return np.tile(x, (reps, 1))[:n], f"{sub} {split}"
    return np.random.default_rng(0).random((n, 784), dtype=np.float32), "uniform noise (no --data)"


def bare_epoch(model: torch.nn.Module, x: torch.Tensor, batch_size: int, generator: torch.Generator) -> None:
    """The minimal loop: permutation, slice, forward, loss, backward, fused Adam; nothing else."""
    opt = _adam(model.parameters(), 1e-3)
    perm = torch.randperm(len(x), generator=generator)
    for start in range(0, len(x), batch_size):
        xb = x[perm[start : start + batch_size]]
        loss = model.loss(xb, model(xb, generator=generator), reduction="mean")
        opt.zero_grad(set_to_none=True)
        loss.total.backward()
        opt.step()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds of this process running ``fn`` (with one torch thread this is insensitive
    to other processes sharing the cores, unlike wall time)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def one_epoch(loops: types.ModuleType, model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> dict:
    return loops.pretrain(
        model,
        x,
        x[:2048],
        epochs=1,
        batch_size=batch_size,
        learning_rate=1e-3,
        patience=2,
        generator=torch.Generator().manual_seed(0),
    )


def compare(args: argparse.Namespace) -> None:
    ref_vae, ref_loops = load_reference(args.reference)
    cases = []
    x_tab = torch.from_numpy(np.random.default_rng(0).normal(size=(args.events, 5)).astype(np.float32))
    cases.append(
        (
            "1M x 5, MLP 5-64-32-4 gaussian" if args.events == 10**6 else f"{args.events} x 5",
            x_tab,
            5,
            (64, 32),
            4,
            "gaussian",
        )
    )
    images, source = mnist_like(args.data, args.images)
    x_img = torch.from_numpy(images)
    cases.append((f"{len(images)} {source}, MLP 784-400-20 bernoulli", x_img, 784, (400,), 20, "bernoulli"))
    print(
        f"reference {args.reference}; batch {args.batch_size}; CPU s of one epoch, best of {args.repeats}, alternating"
    )
    print(
        f"{'case':48s} {'reference s':>11s} {'this s':>8s} {'bare s':>8s} {'ref/this':>9s} {'this/bare':>10s}"
    )
    for name, x, n_in, hidden, latent, decoder in cases:
        torch.manual_seed(0)
        models = {
            "reference": ref_vae.MLPVAE(n_in, hidden, latent, decoder=decoder),
            "this": MLPVAE(n_in, hidden, latent, decoder=decoder),
        }
        models["this"].load_state_dict(models["reference"].state_dict())
        best = {"reference": math.inf, "this": math.inf, "bare": math.inf}
        hist, trained = {}, {}
        for key, loops in (("reference", ref_loops), ("this", new_loops)):  # warm-up, untimed
            one_epoch(loops, copy.deepcopy(models[key]), x[: 4 * args.batch_size], args.batch_size)
        for _ in range(args.repeats):
            for key, loops in (("reference", ref_loops), ("this", new_loops)):
                trained[key] = model = copy.deepcopy(models[key])
                t = timed(lambda: hist.__setitem__(key, one_epoch(loops, model, x, args.batch_size)))  # noqa: B023
                best[key] = min(best[key], t)
            model = copy.deepcopy(models["this"])
            best["bare"] = min(
                best["bare"],
                timed(lambda: bare_epoch(model, x, args.batch_size, torch.Generator().manual_seed(0))),  # noqa: B023
            )
        print(
            f"{name:48s} {best['reference']:>11.2f} {best['this']:>8.2f} {best['bare']:>8.2f} "
            f"{best['reference'] / best['this']:>8.2f}x {best['this'] / best['bare']:>9.2f}x"
        )
        diffs = {
            k: max(
                abs(a - b) / max(abs(a), 1e-30)
                for a, b in zip(hist["reference"][k], hist["this"][k], strict=True)
            )
            for k in hist["this"]
        }
        same = all(hist["reference"][k] == hist["this"][k] for k in hist["this"])
        ref_w, new_w = trained["reference"].state_dict(), trained["this"].state_dict()
        same_w = all(torch.equal(ref_w[k], new_w[k]) for k in ref_w)
        dw = max(float((ref_w[k] - new_w[k]).abs().max() / ref_w[k].abs().max()) for k in ref_w)
        print(
            f"    history identical to the last digit: {same} (largest relative change {max(diffs.values()):.1e}); "
            f"trained weights identical: {same_w} (largest change / largest weight {dw:.1e})"
        )


def op_ratio(args: argparse.Namespace) -> None:
    """The loss op alone: sigmoid + BCE against BCE from the logits, forward + backward."""
    import torch.nn.functional as F

    logits = torch.randn(args.batch_size, 784, requires_grad=True)
    x = torch.rand(args.batch_size, 784)

    def old() -> None:
        F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum(1).mean().backward()

    def new() -> None:
        F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1).mean().backward()

    best = {}
    for name, fn in (("sigmoid+BCE", old), ("BCE with logits", new)) * 2:
        for _ in range(5):
            fn()
        best[name] = min(best.get(name, math.inf), timed(lambda: [fn() for _ in range(200)]) / 200)  # noqa: B023
    print(
        f"loss op at batch {args.batch_size} x 784, fwd+bwd: sigmoid+BCE {best['sigmoid+BCE'] * 1e3:.2f} ms, "
        f"from logits {best['BCE with logits'] * 1e3:.2f} ms, ratio {best['sigmoid+BCE'] / best['BCE with logits']:.2f}x"
    )


def epoch_cost(args: argparse.Namespace) -> None:
    """CPU seconds of one pretrain epoch (this checkout) per batch size, table and images."""
    x_tab = torch.from_numpy(np.random.default_rng(0).normal(size=(args.events, 5)).astype(np.float32))
    x_img = torch.from_numpy(mnist_like(args.data, args.images)[0])
    print(f"{'case':34s} " + " ".join(f"{'batch ' + str(b):>11s}" for b in args.batch_sizes))
    for name, x, n_in, hidden, latent, decoder in (
        (f"{args.events} x 5, 5-64-32-4", x_tab, 5, (64, 32), 4, "gaussian"),
        (f"{args.images} images, 784-400-20", x_img, 784, (400,), 20, "bernoulli"),
    ):
        torch.manual_seed(0)
        base = MLPVAE(n_in, hidden, latent, decoder=decoder)
        one_epoch(new_loops, copy.deepcopy(base), x[:1024], 256)  # warm-up
        best = dict.fromkeys(args.batch_sizes, math.inf)
        for _ in range(args.repeats):
            for b in args.batch_sizes:
                best[b] = min(best[b], timed(lambda: one_epoch(new_loops, copy.deepcopy(base), x, b)))  # noqa: B023
        print(f"{name:34s} " + " ".join(f"{best[b]:>9.2f} s" for b in args.batch_sizes))


def fashion_split(data: Path, known: int, unseen: int) -> dict[str, np.ndarray]:
    from hep_aa.io.mnist import find_idx_pair, read_idx_images, read_idx_labels

    out = {}
    for split in ("train", "t10k"):
        images, labels = find_idx_pair(data / "fashion-mnist", split)
        out[f"{split}_x"] = read_idx_images(images).reshape(-1, 784).astype(np.float32) / 255.0
        out[f"{split}_y"] = read_idx_labels(labels)
    normal = ~np.isin(out["train_y"], [known, unseen])
    rng = np.random.default_rng(0)
    known_rows = rng.choice(np.flatnonzero(out["train_y"] == known), 200, replace=False)
    return {
        "normal": out["train_x"][normal],
        "known": out["train_x"][known_rows],
        "test_normal": out["t10k_x"][~np.isin(out["t10k_y"], [known, unseen])],
        "test_known": out["t10k_x"][out["t10k_y"] == known],
        "test_unseen": out["t10k_x"][out["t10k_y"] == unseen],
    }


def batch(args: argparse.Namespace) -> None:
    from hep_aa.detector import PlainVAE
    from hep_aa.metrics.roc import auc_from_scores

    d = fashion_split(args.data, args.known, args.unseen)
    print(
        f"Fashion-MNIST: {len(d['normal'])} normal training rows (classes other than {args.known}, {args.unseen}), "
        f"200 known (class {args.known}); test {len(d['test_normal'])} normal, {len(d['test_known'])} known, "
        f"{len(d['test_unseen'])} unseen (class {args.unseen})"
    )
    print(
        f"MLP VAE 784-{'-'.join(map(str, args.hidden))}-20, Bernoulli decoder, epochs {args.epochs}, "
        f"patience 10, fine-tune {args.finetune_epochs} (λ ramp over min(10, fine-tune) epochs)"
    )
    print(
        f"{'batch':>6} {'seed':>4} {'pre ep':>6} {'s/epoch':>8} {'VAE known':>9} {'VAE unseen':>10} {'ft s/ep':>8} {'AA known':>8} {'AA unseen':>9}"
    )
    for seed in args.seeds:
        for bs in args.batch_sizes:
            det = PlainVAE(
                hidden=tuple(args.hidden),
                latent_dim=20,
                decoder="bernoulli",
                scaler="none",
                batch_size=bs,
                epochs=args.epochs,
                finetune_epochs=args.finetune_epochs,
                seed=seed,
                device="cpu",
            )
            t_pre = timed(lambda: det.fit(d["normal"]))  # noqa: B023
            n_pre = len(det.history_["pretrain"]["epoch"])

            def aucs() -> tuple[float, float]:
                s0 = det.decision_function(d["test_normal"])  # noqa: B023
                return (
                    auc_from_scores(s0, det.decision_function(d["test_known"])),  # noqa: B023
                    auc_from_scores(s0, det.decision_function(d["test_unseen"])),  # noqa: B023
                )

            vae = aucs()
            t_ft = timed(lambda: det.fine_tune(d["normal"], d["known"]))  # noqa: B023
            n_ft = len(det.history_["finetune"]["epoch"])
            aa = aucs()
            print(
                f"{bs:>6} {seed:>4} {n_pre:>6} {t_pre / n_pre:>8.2f} {vae[0]:>9.3f} {vae[1]:>10.3f} "
                f"{t_ft / n_ft:>8.2f} {aa[0]:>8.3f} {aa[1]:>9.3f}",
                flush=True,
            )


def compile_cost(args: argparse.Namespace) -> None:
    """torch.compile of the model: first (compiling) epoch and steady epochs against eager."""
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(args.events, 5)).astype(np.float32))
    torch.manual_seed(0)
    base = MLPVAE(5, (64, 32), 4)
    eager = copy.deepcopy(base)
    compiled = copy.deepcopy(base)
    compiled.forward = torch.compile(compiled.forward)  # type: ignore[method-assign]
    t_eager = [
        timed(lambda: bare_epoch(eager, x, args.batch_size, torch.Generator().manual_seed(0)))
        for _ in range(3)
    ]
    t_comp = [
        timed(lambda: bare_epoch(compiled, x, args.batch_size, torch.Generator().manual_seed(0)))
        for _ in range(3)
    ]
    gain = min(t_eager) - min(t_comp[1:])
    print(
        f"{args.events} x 5, batch {args.batch_size}: eager epoch {min(t_eager):.2f} s; compiled first epoch {t_comp[0]:.2f} s, then {min(t_comp[1:]):.2f} s"
    )
    compile_s = t_comp[0] - min(t_comp[1:])
    verdict = f"pays back after {compile_s / gain:.0f} epochs" if gain > 0 else "never pays back"
    print(f"compile overhead {compile_s:.1f} s, gain per epoch {gain:+.2f} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("compare")
    p.add_argument("--reference", default=DEFAULT_REFERENCE)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--images", type=int, default=60_000)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("op")
    p.add_argument("--batch-size", type=int, default=256)
    p = sub.add_parser("batch")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--hidden", type=int, nargs="+", default=[400])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--finetune-epochs", type=int, default=30)
    p.add_argument(
        "--known", type=int, default=5, help="Fashion-MNIST class of the known anomalies (5: sandal)"
    )
    p.add_argument("--unseen", type=int, default=9, help="class never shown (9: ankle boot)")
    p = sub.add_parser("epoch")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--images", type=int, default=60_000)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    p.add_argument("--repeats", type=int, default=2)
    p = sub.add_parser("compile")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {args.threads}"
    )
    {"compare": compare, "op": op_ratio, "epoch": epoch_cost, "batch": batch, "compile": compile_cost}[
        args.mode
    ](args)


if __name__ == "__main__":
    main()
