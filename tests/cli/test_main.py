from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hep_aa import __version__
from hep_aa.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hep-aa {__version__}"


def test_help_lists_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "config" in out
    assert "--verbose" in out


def test_config_validate_default(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(repo_root / "workflows" / "config.yaml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_config_validate_wrong_type_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: 1\ntraining: {epochs: "ten"}\n')
    assert main(["config", "validate", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "training.epochs" in lines[0]
    assert "Traceback" not in captured.err


def test_verbose_shows_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 3\n")
    assert main(["-v", "config", "validate", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_config_show_fills_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\n")
    assert main(["config", "show", str(cfg)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["training"]["batch_size"] == 256


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_console_script_exit_code(tmp_path: Path) -> None:
    """The installed entry point exits 2 on a user error, with one stderr line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nplots: {formats: []}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hep_aa", "config", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "plots.formats" in proc.stderr


def test_missing_optional_dependency_names_the_extra(tmp_path: Path) -> None:
    """A command whose extra is not installed fails with one line naming the extra."""
    code = (
        "import sys; sys.modules['coffea'] = None\n"
        "from hep_aa.cli.main import main\n"
        "sys.exit(main(['coffea-score', 'model', 'x=y.root', '-o', 'o.root']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "hep-aa: error: this command needs 'coffea', which is not installed; pip install 'hep_aa[coffea]'"
    ]


# ---------------------------------------------------------------- lazy subcommands
#: What start-up must not pay for unless the command needs it (DESIGN.md layering).
SCIENTIFIC = ("torch", "sklearn", "scipy", "matplotlib", "awkward", "uproot", "coffea", "pythia8mc")


def _modules_after(argv: list[str], cwd: Path) -> tuple[int, set[str]]:
    """Exit code of ``hep-aa ARGV`` run in a fresh interpreter and the modules it imported."""
    code = (
        "import sys\n"
        "from hep_aa.cli.main import main\n"
        f"rc = main({argv!r})\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES "))
    return proc.returncode, set(line.split()[1:])


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["generate", "--help"],
        ["features", "--help"],
        ["config", "--help"],
        ["config", "validate"],
    ],
    ids=lambda a: " ".join(a),
)
def test_light_commands_import_no_scientific_stack(argv: list[str], repo_root: Path, tmp_path: Path) -> None:
    if argv == ["config", "validate"]:
        argv = [*argv, str(repo_root / "workflows" / "config.yaml")]
    code, modules = _modules_after(argv, tmp_path)
    assert code == 0
    leaked = sorted(m for m in SCIENTIFIC if m in modules)
    assert not leaked, f"hep-aa {' '.join(argv)} imported {leaked}"
    if argv == ["config", "--help"]:  # the schema stack loads only to validate or show
        assert "jsonschema" not in modules
    if argv[0] in ("--help", "--version"):  # the group alone: no subcommand module, no numpy
        assert not [m for m in modules if m.startswith("hep_aa.cli.") and m != "hep_aa.cli.main"]
        assert "numpy" not in modules


def test_command_table_matches_the_commands() -> None:
    """``--help`` lists the table's short help; it must be each command's own first sentence."""
    from hep_aa.cli.main import COMMANDS, _load

    for name, (_, short) in COMMANDS.items():
        command = _load(name)
        assert command.name == name
        assert command.get_short_help_str(limit=10_000) == short, name


def test_help_lists_every_command_and_the_guard_covers_lazy_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hep_aa.cli.main import COMMANDS

    assert main(["--help"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.split("Commands:")[1].splitlines() if line]
    assert listed == list(COMMANDS)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\n")
    assert main(["config", "show", str(cfg), "-o", str(cfg)]) == 2
    assert "given as both FILES and --output" in capsys.readouterr().err
    assert cfg.read_text() == "version: 1\n"
