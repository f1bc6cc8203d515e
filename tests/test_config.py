import tomllib
from pathlib import Path

import pytest

from auditor import config, configure
from auditor.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_documents_every_setting_with_its_default():
    shipped = tomllib.loads((ROOT / "config.toml").read_text())
    documented = {s: set(v) for s, v in shipped.items()}
    undocumented = [
        f"[{s}] {k}" for s, keys in config.SCHEMA.items() for k in sorted(set(keys) - documented.get(s, set()))
    ]
    assert documented == {s: set(v) for s, v in config.SCHEMA.items()}, (
        f"config.toml must document every setting of SCHEMA in auditor/config.py, with its default and a comment; "
        f"missing: {undocumented}"
    )
    assert configure.load(ROOT / "config.toml").values == config.defaults().values, (
        "config.toml must show each setting's default from SCHEMA in auditor/config.py"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules]\ninactive_dayz = 30\n", "unknown key rules.inactive_dayz"),
        ("[rulez]\n", "unknown section [rulez]"),
        ('[rules]\ninactive_days = "90"\n', "rules.inactive_days must be an integer"),
        ("[rules]\ninactive_days = true\n", "rules.inactive_days must be an integer"),
        ("[rules]\ninactive_days = 0\n", "rules.inactive_days must be greater than 0"),
        ('[organizations]\ninclude_accounts = ["12345"]\n', "organizations.include_accounts not 12-digit"),
        ('[rules]\ndisabled = ["no-such-rule"]\n', "rules.disabled names unknown rules"),
        ('[output]\nfail_on = "severe"\n', "output.fail_on must be one of"),
        ("[rules\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError) as error:
        configure.load(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_bad_config_key_exits_2_before_any_aws_call(tmp_path, capsys, monkeypatch):
    # No endpoint and no credentials: any AWS call would fail differently.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    path = tmp_path / "config.toml"
    path.write_text("[aws]\nmax_workerz = 4\n")
    code = main(["run", "--config", str(path), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown key aws.max_workerz" in err and str(path) in err
    assert not (tmp_path / "out" / "findings.json").exists()


def test_an_explicit_config_file_must_exist(tmp_path, capsys):
    assert main(["rules", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "config file not found" in capsys.readouterr().err
