from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from hep_aa.config import Config, load_config, load_schema, validate_config
from hep_aa.exceptions import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_config_is_valid(repo_root: Path) -> None:
    cfg = load_config(repo_root / "workflows" / "config.yaml")
    assert isinstance(cfg, Config)
    assert cfg.version == 1
    assert cfg.seeds == (0, 1, 2)
    assert cfg.model.hidden == (64, 32)
    assert cfg.datasets.vh.point == "contact_uL"
    assert cfg.datasets.vh.pthat_min == pytest.approx(150.0)


def test_default_config_spells_out_every_schema_key(repo_root: Path) -> None:
    """The commented default documents every option: no schema key is left implicit."""
    written = yaml.safe_load((repo_root / "workflows" / "config.yaml").read_text())

    def keys(schema: dict, prefix: str = "") -> set[str]:
        out = set()
        for name, sub in schema.get("properties", {}).items():
            out.add(prefix + name)
            if sub.get("type") == "object" and "properties" in sub:
                out |= keys(sub, prefix + name + ".")
        return out

    def present(data: dict, prefix: str = "") -> set[str]:
        out = set()
        for name, value in data.items():
            out.add(prefix + name)
            if isinstance(value, dict) and name not in ("point", "unseen_point"):  # free-form couplings
                out |= present(value, prefix + name + ".")
        return out

    assert keys(load_schema()) == present(written)


def test_minimal_config_gets_schema_defaults() -> None:
    cfg = load_config({"version": 1})
    schema = load_schema()
    training = schema["properties"]["training"]["properties"]
    assert cfg.training.batch_size == training["batch_size"]["default"] == 256
    assert cfg.training.ramp == "linear"
    assert cfg.evaluation.signal_efficiencies == (0.2, 0.5, 0.8)
    assert cfg.datasets.lhco.path is None


def test_partial_section_keeps_user_values_and_fills_the_rest() -> None:
    cfg = load_config({"version": 1, "training": {"epochs": 7, "ramp": "cosine"}})
    assert cfg.training.epochs == 7
    assert cfg.training.ramp == "cosine"
    assert cfg.training.patience == 10


def test_config_is_frozen() -> None:
    cfg = load_config({"version": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.training.epochs = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.datasets.vh.point["czz"] = 1.0  # type: ignore[index]


def test_input_mapping_is_not_mutated() -> None:
    data = {"version": 1, "training": {"epochs": 3}}
    validate_config(data)
    assert data == {"version": 1, "training": {"epochs": 3}}


def test_to_dict_round_trips() -> None:
    cfg = load_config({"version": 1})
    assert load_config(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ('version: 1\ntraining: {epochs: "ten"}\n', "training.epochs", "'ten'"),
        ("version: 1\ntraining: {epochs: 0}\n", "training.epochs", "0"),
        ("version: 1\nmodel: {hidden: [64, -3]}\n", "model.hidden[1]", "-3"),
        ("version: 1\nmodel: {decoder: poisson}\n", "model.decoder", "'poisson'"),
        ("version: 1\ntraning: {epochs: 3}\n", "traning", "traning"),
        ("version: 1\ntraining: {epoch: 3}\n", "training.epoch", "epoch"),
        ("version: 2\n", "version", "1"),
        ("training: {learning_rate: .nan}\n", "training.learning_rate", "nan"),
        ("evaluation: {signal_efficiencies: [0.2, .inf]}\n", "evaluation.signal_efficiencies[1]", "inf"),
        ("datasets: {vh: {point: {czz: -.inf}}}\n", "datasets.vh.point.czz", "-inf"),
        ("plots: {com_energy_tev: .NaN}\n", "plots.com_energy_tev", "nan"),
        ("version: 1\ntraining: {device: gpu0}\n", "training.device", "gpu0"),
        ("version: 1\ndatasets: {vh: {point: {cww: 1.0}}}\n", "datasets.vh.point", "cww"),
    ],
)
def test_invalid_values_name_the_path(tmp_path: Path, text: str, path: str, value: str) -> None:
    file = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(file)
    message = str(info.value)
    assert message.startswith(f"{file}: {path}: ")
    assert value in message
    assert "\n" not in message


def test_semantic_check_one_vs_rest_classes() -> None:
    with pytest.raises(ConfigError, match=r"datasets\.mnist\.known_class"):
        load_config(
            {
                "version": 1,
                "datasets": {"mnist": {"protocol": "one-vs-rest", "normal_class": 3, "known_class": 3}},
            }
        )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    file = _write(tmp_path, "version: 1\ntraining: [\n")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+"):
        load_config(file)


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just a string\n"])
def test_top_level_must_be_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(_write(tmp_path, text))


def test_schema_is_versioned_and_self_valid() -> None:
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"]["const"] == 1
    assert schema["$id"].endswith("v1")


def test_override_without_version_is_valid(tmp_path: Path) -> None:
    """A ``--configfile`` override need not repeat ``version``; it is the default's."""
    cfg = load_config(_write(tmp_path, "training: {device: cuda, epochs: 4}\n"))
    assert cfg.version == 1
    assert cfg.training.device == "cuda"
    assert cfg.training.epochs == 4


def test_override_typo_is_named_not_version(tmp_path: Path) -> None:
    file = _write(tmp_path, "training: {devise: cuda}\n")
    with pytest.raises(ConfigError) as info:
        load_config(file)
    assert str(info.value).startswith(f"{file}: training.devise: ")
    assert "version" not in str(info.value)


def test_several_files_merge_like_snakemake(tmp_path: Path, repo_root: Path) -> None:
    default = repo_root / "workflows" / "config.yaml"
    user = tmp_path / "my.yaml"
    user.write_text("seeds: [5]\ntraining: {device: cuda}\ndatasets: {lhco: {n_signal: 7}}\n")
    cfg = load_config(default, user)
    assert cfg.training.device == "cuda"  # the later file wins
    assert cfg.seeds == (5,)  # lists are replaced, not concatenated
    assert cfg.datasets.lhco.n_signal == 7
    assert cfg.datasets.lhco.n_background == load_config(default).datasets.lhco.n_background
    assert load_config(user, default).training.device == "auto"  # order matters


def test_error_in_second_file_names_that_file(tmp_path: Path, repo_root: Path) -> None:
    user = tmp_path / "my.yaml"
    user.write_text("model: {latent_dim: 0}\n")
    with pytest.raises(ConfigError, match=rf"^{user}: model\.latent_dim: "):
        load_config(repo_root / "workflows" / "config.yaml", user)


def test_semantics_checked_on_the_merge(tmp_path: Path) -> None:
    """One file may raise m_wprime and another m_x: only the merged result must be consistent."""
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("datasets: {lhco: {signal_masses: {m_wprime: 6000}}}\n")
    b.write_text("datasets: {lhco: {signal_masses: {m_x: 4000}}}\n")
    assert load_config(a, b).datasets.lhco.signal_masses.m_x == 4000
    with pytest.raises(ConfigError, match=r"b\.yaml: datasets\.lhco\.signal_masses: m_x \+ m_y"):
        load_config(b)
    with pytest.raises(ConfigError, match=r"a\.yaml \+ .*b\.yaml \+ <config>: datasets\.lhco\.signal_masses"):
        load_config(a, b, {"datasets": {"lhco": {"signal_masses": {"m_wprime": 4050}}}})


def test_merge_configs_does_not_mutate() -> None:
    from hep_aa.config import merge_configs

    base = {"training": {"epochs": 3, "device": "cpu"}, "seeds": [0, 1]}
    merged = merge_configs(base, {"training": {"epochs": 5}, "seeds": [2]})
    assert merged == {"training": {"epochs": 5, "device": "cpu"}, "seeds": [2]}
    assert base == {"training": {"epochs": 3, "device": "cpu"}, "seeds": [0, 1]}


def test_load_config_needs_a_source() -> None:
    with pytest.raises(TypeError):
        load_config()
