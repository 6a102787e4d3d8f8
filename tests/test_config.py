"""Settings from dragonflow.ini, environment and flags, and secrets that never show."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from dragonscope.cli import build_parser
from dragonscope.collector.settings import CollectorSettings, settings_from_args
from dragonscope.config import (
    ConfigError,
    Secret,
    nb_url_from_df,
    parse_host_port,
    read_dragonflow_ini,
    read_secret_file,
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["collector", *argv])


def test_ini_defaults_are_dragonflows(tmp_path: Path) -> None:
    ini = read_dragonflow_ini(write(tmp_path, "df.ini", "[df]\n"))
    assert ini.nb_url == "etcd://127.0.0.1:4001"
    assert ini.analyzer == "127.0.0.1:8082"
    assert ini.user == "admin"
    assert ini.password is None
    assert ini.update_interval == 10.0


def test_ini_remote_db_ip_and_port_interpolate(tmp_path: Path) -> None:
    path = write(tmp_path, "df.ini", "[df]\nremote_db_ip = 10.0.0.5\nremote_db_port = 2379\n")
    assert read_dragonflow_ini(path).nb_url == "etcd://10.0.0.5:2379"


def test_ini_full(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "df.ini",
        "[DEFAULT]\ndebug = true\n"
        "[df]\n# comment\nnb_db_class = redis_nb_db_driver\n"
        "remote_db_hosts = 10.0.0.1:6379,10.0.0.2:6379\n"
        "[df_skydive]\nanalyzer_endpoint = 10.0.0.9:8082\nuser = sky\n"
        "password = s3cret\nupdate_interval = 2.5\n",
    )
    ini = read_dragonflow_ini(path)
    assert ini.nb_url == "redis://10.0.0.1:6379"
    assert ini.analyzer == "10.0.0.9:8082"
    assert ini.user == "sky"
    assert ini.password is not None and ini.password.reveal() == "s3cret"
    assert "s3cret" not in repr(ini)
    assert ini.update_interval == 2.5


def test_etcd_cluster_hosts() -> None:
    url = nb_url_from_df("etcd_nb_db_driver", ["10.0.0.1:2379", "10.0.0.2:2379", "[::1]:2379"])
    assert url == "etcd://10.0.0.1:2379,10.0.0.2:2379,[::1]:2379"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[df]\nnb_db_class = cassandra_nb_db_driver\n", "not supported"),
        ("[df]\nremote_db_hosts = nowhere\n", "HOST:PORT"),
        ("[df_skydive]\nupdate_interval = soon\n", "must be a number"),
        ("[df_skydive]\nupdate_interval = -1\n", "positive"),
        ("[df]\nremote_db_hosts = $nothing:1\n", "$nothing"),
        ("no section header\n", "not a valid ini file"),
    ],
)
def test_ini_errors_are_precise(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("$", r"\$")):
        read_dragonflow_ini(write(tmp_path, "df.ini", text))


def test_missing_ini_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_dragonflow_ini(tmp_path / "absent.ini")


def test_secret_never_shows() -> None:
    secret = Secret("hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2"
    settings = CollectorSettings(nb="memory://sample", user="u", password="hunter2")
    assert isinstance(settings.password, Secret)
    assert "hunter2" not in repr(settings)


def test_password_file(tmp_path: Path) -> None:
    assert read_secret_file(write(tmp_path, "pw", "abc\n")).reveal() == "abc"
    with pytest.raises(ConfigError, match="empty"):
        read_secret_file(write(tmp_path, "empty", ""))
    with pytest.raises(ConfigError, match="cannot read"):
        read_secret_file(tmp_path / "nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2.3.4:80", ("1.2.3.4", 80)), (":9", ("127.0.0.1", 9)), ("[::1]:5", ("::1", 5))],
)
def test_host_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(text, "x") == expected


def test_host_port_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_host_port("a:b:c", "--metrics-listen")
    with pytest.raises(ConfigError, match="out of range"):
        parse_host_port("h:70000", "--metrics-listen")


def test_precedence_flags_env_ini(tmp_path: Path) -> None:
    ini = write(
        tmp_path,
        "df.ini",
        "[df]\nremote_db_hosts = 10.0.0.1:2379\n"
        "[df_skydive]\nanalyzer_endpoint = 10.0.0.9:8082\npassword = frominiXYZ\n"
        "update_interval = 7\n",
    )
    pw = write(tmp_path, "pw", "fromfile\n")
    env = {"DRAGONSCOPE_ANALYZER": "10.9.9.9:1", "DRAGONSCOPE_PASSWORD": "fromenv"}

    only_ini = settings_from_args(args("--config", str(ini)), {})
    assert only_ini.nb == "etcd://10.0.0.1:2379"
    assert only_ini.analyzer == "10.0.0.9:8082"
    assert only_ini.user == "admin" and only_ini.password == Secret("frominiXYZ")
    assert only_ini.update_interval == 7

    with_env = settings_from_args(args("--config", str(ini)), env)
    assert with_env.analyzer == "10.9.9.9:1"
    assert with_env.password == Secret("fromenv")

    flags = settings_from_args(
        args(
            "--config", str(ini), "--analyzer", "1.1.1.1:2", "--password-file", str(pw),
            "--nb", "redis://127.0.0.1:1", "--update-interval", "3", "--chassis", "compute-1",
        ),
        env,
    )  # fmt: skip
    assert flags.analyzer == "1.1.1.1:2"
    assert flags.password == Secret("fromfile")
    assert flags.nb == "redis://127.0.0.1:1"
    assert flags.update_interval == 3
    assert flags.host == "compute-1"
    assert flags.persistence_policy == "DeleteOnDisconnect"


def test_global_mode_defaults() -> None:
    settings = settings_from_args(args("--nb", "memory://sample"), {})
    assert settings.host == "dragonflow"
    assert settings.persistence_policy == "Persistent"
    assert settings.user is None and settings.password is None


def test_no_nb_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no NB DB given"):
        settings_from_args(args(), {})


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dragonscope.cli import main

    code = main(["collector", "--nb", "memory://sample", "--update-interval", "zero"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "update interval" in err and "Traceback" not in err


def test_password_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from dragonscope.cli import main

    pw = write(tmp_path, "pw", "pa55word-XYZ\n")
    caplog.set_level(logging.DEBUG)
    # An invalid chassis name stops the run after settings were read.
    main(["collector", "--nb", "memory://sample", "--password-file", str(pw), "--chassis", "a b"])
    out = capsys.readouterr()
    assert "pa55word-XYZ" not in caplog.text + out.out + out.err


def test_bad_nb_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from dragonscope.cli import main

    assert main(["collector", "--nb", "bogus://x", "--analyzer", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dragonscope collector:") and "bogus" in err
    assert "\n" not in err and "Traceback" not in err
