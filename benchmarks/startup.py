"""Start-up cost of ``hep-aa`` commands, side by side with references and the previous CLI.

Every command runs in a fresh process ``--repeats`` times (wall clock and user+sys CPU of the
child, from ``getrusage``); the tables give the median, and ratios to ``python -c pass``
(the interpreter's floor) and to the same command of the **previous version** — the package
as it was before the lazy command table, extracted with ``git archive`` into a temporary
folder and put first on ``PYTHONPATH`` (same venv, same dependencies).

1. ``hep-aa --version``, ``--help``, ``generate --help``, ``config validate`` (of a small
   config valid for both versions): no scientific stack should load (acceptance: ``--help``
   ≤ 0.2 s wall).
2. ``hep-aa score`` of a 150-event table with a plain-VAE model (acceptance: ≤ 3 s CPU), and
   where its time goes: ``python -X importtime`` self times summed per top-level package.
3. One fat job (``hep-aa train --seeds 0,1,2 --score-features --scores``) against the six
   thin jobs it replaces (three ``train --seed S`` + three ``score``), with a check that the
   score tables are identical.

    python benchmarks/startup.py [--repeats 5] [--baseline GIT-REF]

Timings on a shared machine vary; the ratios within one run are the figures to compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from hep_aa.io.artifacts import read_table, write_table

REPO = Path(__file__).resolve().parents[1]
HEP_AA = shutil.which("hep-aa", path=str(Path(sys.executable).parent)) or "hep-aa"


def timed(cmd: list[str], env: dict[str, str], repeats: int, cwd: Path) -> tuple[float, float]:
    """Median wall and median user+sys CPU seconds of ``cmd`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def import_breakdown(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """``-X importtime`` self time (s) per top-level package for ``python -X importtime -m ...``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd], env=env, cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    per: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S.*)$", line)
        if m:
            per[m.group(2).strip().split(".")[0]] += int(m.group(1)) / 1e6
    return dict(per)


def baseline_tree(ref: str | None, dest: Path) -> tuple[Path, str]:
    """Extract the package at ``ref`` (default: the commit before the lazy command table)."""
    if ref is None:
        out = subprocess.run(
            ["git", "log", "--format=%H", "-S", "class _LazyGroup", "--", "hep_aa/cli/main.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        ref = f"{out[-1]}~1"
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", sha, "hep_aa"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest, sha


def make_inputs(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    names = [f"f{i}" for i in range(5)]
    train = folder / "train.parquet"
    n = 2000
    write_table(train, rng.normal(size=(n, 5)), names, labels=np.zeros(n), types="background")
    test = folder / "test150.parquet"
    labels = np.r_[np.zeros(120), np.ones(30)]
    x = np.vstack([rng.normal(size=(120, 5)), rng.normal(2.0, 0.5, size=(30, 5))])
    write_table(test, x, names, labels=labels, types=["background"] * 120 + ["signal"] * 30)
    config = folder / "config.yaml"
    config.write_text("version: 1\ntraining: {epochs: 3, device: cpu}\n")
    return {"train": train, "test": test, "config": config}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", help="git ref of the previous version (default: before _LazyGroup)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hep_aa_startup_"))
    old_root, sha = baseline_tree(args.baseline, tmp / "old")
    env_new = {**os.environ, "OMP_NUM_THREADS": "1"}
    env_new.pop("PYTHONPATH", None)
    env_old = {**env_new, "PYTHONPATH": str(old_root)}
    inputs = make_inputs(tmp)
    work = tmp / "work"
    work.mkdir()
    print(f"# hep-aa start-up ({platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
    print(f"previous version: {sha}; repeats: {args.repeats}; medians; OMP_NUM_THREADS=1\n")

    # ---------------------------------------------------------------- 1. light commands
    refs = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    }
    floor_wall, _ = timed(refs["python -c pass"], env_new, args.repeats, work)
    print(
        "| command | wall new [s] | CPU new [s] | wall previous [s] | new / previous | new / `python -c pass` |"
    )
    print("|---|---|---|---|---|---|")
    for name, cmd in refs.items():
        wall, cpu = timed(cmd, env_new, args.repeats, work)
        print(f"| `{name}` | {wall:.3f} | {cpu:.3f} | | | {wall / floor_wall:.1f}× |")
    light = {
        "hep-aa --version": ["--version"],
        "hep-aa --help": ["--help"],
        "hep-aa generate --help": ["generate", "--help"],
        "hep-aa train --help": ["train", "--help"],
        "hep-aa config validate config.yaml": ["config", "validate", str(inputs["config"])],
    }
    for name, argv in light.items():
        wall, cpu = timed([HEP_AA, *argv], env_new, args.repeats, work)
        old_wall, _ = timed([HEP_AA, *argv], env_old, args.repeats, work)
        print(
            f"| `{name}` | {wall:.3f} | {cpu:.3f} | {old_wall:.3f} | {wall / old_wall:.2f} | "
            f"{wall / floor_wall:.1f}× |"
        )

    # ---------------------------------------------------------------- 2. score, 150 events
    model = work / "vae"
    subprocess.run(
        [
            HEP_AA,
            "train",
            "--features",
            str(inputs["train"]),
            "--method",
            "vae",
            "--config",
            str(inputs["config"]),
            "--threads",
            "1",
            "-o",
            str(model),
        ],
        env=env_new,
        check=True,
        capture_output=True,
    )
    score = ["score", str(model), str(inputs["test"]), "-o", str(work / "s.parquet"), "--threads", "1"]
    wall, cpu = timed([HEP_AA, *score], env_new, args.repeats, work)
    old_wall, old_cpu = timed([HEP_AA, *score], env_old, args.repeats, work)
    print(
        "\n| `hep-aa score` (VAE, 150 events) | wall [s] | CPU user+sys [s] |\n|---|---|---|\n"
        f"| new | {wall:.2f} | {cpu:.2f} |\n| previous | {old_wall:.2f} | {old_cpu:.2f} |\n"
        f"| new / previous | {wall / old_wall:.2f} | {cpu / old_cpu:.2f} |"
    )
    new_imp = import_breakdown(["-m", "hep_aa", *score], env_new, work)
    old_imp = import_breakdown(["-m", "hep_aa", *score], env_old, work)
    total_new, total_old = sum(new_imp.values()), sum(old_imp.values())
    print("\n| import self time, top-level package | new [s] | previous [s] |\n|---|---|---|")
    top = sorted(set(new_imp) | set(old_imp), key=lambda k: -max(new_imp.get(k, 0), old_imp.get(k, 0)))
    for pkg in top[:10]:
        print(f"| {pkg} | {new_imp.get(pkg, 0.0):.3f} | {old_imp.get(pkg, 0.0):.3f} |")
    print(f"| **all imports** | {total_new:.3f} | {total_old:.3f} |")

    # ---------------------------------------------------------------- 3. one fat job vs six thin
    common = ["--features", str(inputs["train"]), "--method", "vae", "--config", str(inputs["config"])]
    common += ["--threads", "1"]
    fat = [HEP_AA, "train", *common, "--seeds", "0,1,2", "-o", str(work / "fat_seed{seed}")]
    fat += ["--score-features", str(inputs["test"]), "--scores", str(work / "fat_scores{seed}.parquet")]
    wall_fat, cpu_fat = timed(fat, env_new, 1, work)
    wall_thin = cpu_thin = 0.0
    for seed in (0, 1, 2):
        w, c = timed(
            [HEP_AA, "train", *common, "--seed", str(seed), "-o", str(work / f"thin{seed}")], env_new, 1, work
        )
        wall_thin, cpu_thin = wall_thin + w, cpu_thin + c
        out = work / f"thin_scores{seed}.parquet"
        w, c = timed(
            [HEP_AA, "score", str(work / f"thin{seed}"), str(inputs["test"]), "-o", str(out)],
            env_new,
            1,
            work,
        )
        wall_thin, cpu_thin = wall_thin + w, cpu_thin + c
    same = all(
        np.array_equal(
            read_table(work / f"fat_scores{s}.parquet").features,
            read_table(work / f"thin_scores{s}.parquet").features,
        )
        for s in (0, 1, 2)
    )
    print(
        "\n| 3 seeds of `vae` (2,000 events, 3 epochs) + scoring | jobs | wall [s] | CPU [s] |\n"
        "|---|---|---|---|\n"
        f"| `train --seeds 0,1,2 --score-features --scores` | 1 | {wall_fat:.2f} | {cpu_fat:.2f} |\n"
        f"| `train --seed S` + `score` per seed | 6 | {wall_thin:.2f} | {cpu_thin:.2f} |\n"
        f"| fat / thin | | {wall_fat / wall_thin:.2f} | {cpu_fat / cpu_thin:.2f} |\n"
        f"\nscore tables identical (fat vs thin): {same}"
    )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
