"""Settings: a secret goes only to its own service over https (or to this machine, for tests),
and every number has a range a run survives. A bad value is exit 2 naming the setting."""

import socket
from pathlib import Path

import pytest
from annotated_types import Ge, Gt, Le, Lt
from pytest_httpx import HTTPXMock
from typer.testing import CliRunner

from bestseller_cli.cli.app import app
from bestseller_cli.config import Settings, load_settings
from bestseller_cli.errors import ConfigError
from fakes import KEEPA_TEST_KEY, SLACK_TEST_TOKEN
from fakes.keepa_server import FakeKeepa
from fakes.slack_server import FakeSlack

runner = CliRunner()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name this process tries to resolve (and fails to): no connection leaves."""
    tried: list[str] = []

    def refuse(host: str, *args: object, **kwargs: object) -> object:
        tried.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "the test lets no connection out")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return tried


def refused(result, setting: str, *secrets: str) -> None:
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert setting in line and "https://" in line
    for secret in secrets:
        assert secret not in result.output


def test_keepa_api_url_over_http_to_another_host_is_refused_before_the_key_is_sent(
    env: dict[str, str], httpx_mock: HTTPXMock, lookups: list[str], monkeypatch
) -> None:
    monkeypatch.setenv("KEEPA_API_URL", "http://keepa.elsewhere.example")
    result = runner.invoke(app, ["check"])
    refused(result, "KEEPA_API_URL", KEEPA_TEST_KEY)
    assert httpx_mock.get_requests() == [] and lookups == []


def test_a_dot_env_in_the_working_directory_cannot_send_the_key_elsewhere(
    env: dict[str, str], httpx_mock: HTTPXMock, lookups: list[str], monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KEEPA_API_URL")
    (tmp_path / ".env").write_text("KEEPA_API_URL=http://elsewhere\n")
    for command in (["check"], ["doctor"], ["asins", "add", "B0C1234567", "--verify"]):
        result = runner.invoke(app, command)
        refused(result, "KEEPA_API_URL", KEEPA_TEST_KEY)
    assert httpx_mock.get_requests() == [] and lookups == []


def test_slack_api_url_over_http_to_another_host_is_refused_before_the_token_is_sent(
    keepa: FakeKeepa, httpx_mock: HTTPXMock, lookups: list[str], monkeypatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TEST_TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL_ID", "C0ALERTS")
    monkeypatch.setenv("SLACK_API_URL", "http://slack.elsewhere.example/api/")
    result = runner.invoke(app, ["doctor"])
    refused(result, "SLACK_API_URL", SLACK_TEST_TOKEN, KEEPA_TEST_KEY)
    assert httpx_mock.get_requests() == [] and lookups == []


def test_a_monitor_url_over_http_to_another_host_is_refused(
    env: dict[str, str], lookups: list[str], monkeypatch
) -> None:
    monkeypatch.setenv("HEALTHCHECK_URL", "http://hc-ping.example/SECRET-UUID")
    result = runner.invoke(app, ["check"])
    refused(result, "HEALTHCHECK_URL", "SECRET-UUID")
    assert lookups == []


def test_https_to_another_host_is_accepted_and_doctor_names_the_hosts(
    keepa: FakeKeepa, slack: FakeSlack
) -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "KEEPA_API_URL host" in text and "goes to keepa.test, not api.keepa.com" in text
    assert "SLACK_API_URL host" in text and "goes to 127.0.0.1, not slack.com" in text
    assert KEEPA_TEST_KEY not in result.output and SLACK_TEST_TOKEN not in result.output


def test_doctor_says_nothing_of_hosts_when_they_are_keepa_and_slack() -> None:
    from bestseller_cli.maintenance.doctor import api_hosts_findings

    assert api_hosts_findings(Settings(_env_file=None)) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.9.9.9/",
        "http://localhost:3000/api/",
        "http://[::1]:9000",
        "https://127.0.0.1:8443",
        "https://proxy.example.com/keepa",
    ],
)
def test_https_anywhere_and_http_to_this_machine_are_accepted(url: str) -> None:
    settings = load_settings(_env_file=None, keepa_api_url=url, slack_api_url=url)
    assert settings.keepa_api_url == url and settings.slack_api_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://[::ffff:10.0.0.1]",
        "http://api.keepa.com",
    ],
)
def test_http_to_anything_but_a_loopback_address_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="KEEPA_API_URL: must be an https:// URL"):
        load_settings(_env_file=None, keepa_api_key=KEEPA_TEST_KEY, keepa_api_url=url)


# -- numeric ranges --------------------------------------------------------------------------


def numeric_fields() -> dict[str, list]:
    """Every int or float setting -> its pydantic constraints."""
    return {
        name: field.metadata
        for name, field in Settings.model_fields.items()
        if field.annotation in {int, float, int | None, float | None}
    }


def test_every_numeric_setting_has_a_floor_and_a_ceiling() -> None:
    for name, constraints in numeric_fields().items():
        kinds = {type(constraint) for constraint in constraints}
        assert kinds & {Ge, Gt} and kinds & {Le, Lt}, f"{name.upper()} is unbounded"


def out_of_range() -> list[tuple[str, str]]:
    """(setting, value) just below each floor and just above each ceiling."""
    cases = []
    for name, constraints in numeric_fields().items():
        whole = Settings.model_fields[name].annotation in {int, int | None}
        for constraint in constraints:
            if isinstance(constraint, Ge):
                below = constraint.ge - 1 if whole else constraint.ge - 0.5
                cases.append((name.upper(), f"{below:g}"))
            elif isinstance(constraint, Gt):
                cases.append((name.upper(), f"{constraint.gt:g}"))
            elif isinstance(constraint, Le):
                cases.append((name.upper(), f"{constraint.le + 1}"))
    return cases


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env, no database to reach: a setting that passed would end in exit 1, not 2."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in Settings.model_fields] + ["DATABASE_URL"]:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("BESTSELLER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KEEPA_API_KEY", KEEPA_TEST_KEY)


@pytest.mark.parametrize(("setting", "value"), out_of_range())
def test_a_number_outside_its_range_exits_2_naming_the_setting(
    bare_env: None, monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    monkeypatch.setenv(setting, value)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert f"{setting}:" in line and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["check"], ["doctor"]])
def test_half_a_minute_between_runs_is_refused_instead_of_dividing_by_zero(
    bare_env: None, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("SCHEDULE_MINUTES", "0.5")
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "SCHEDULE_MINUTES: Input should be greater than or equal to 1" in result.stderr
