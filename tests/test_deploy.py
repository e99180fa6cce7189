"""The deploy works as shipped: the Procfile, app.json, Dockerfile and docker-compose.yml name
the same three processes, requirements.txt pins what pyproject asks for, and the image's entry
commands bring up web + clock on PostgreSQL (no Docker engine runs here: the commands are run
as the containers would run them)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.conftest import free_port, slabot_env
from tests.fake_slack import FakeSlack
from tests.test_clock import wait_for

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = {"web": "slabot serve", "clock": "slabot clock", "release": "slabot db upgrade"}


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_host_runs_the_same_three_processes() -> None:
    assert procfile() == PROCESSES
    services = compose()["services"]
    assert {name: " ".join(services[name]["command"]) for name in PROCESSES} == PROCESSES
    assert services["web"]["depends_on"]["release"]["condition"] == "service_completed_successfully"
    assert services["clock"]["healthcheck"] == {"disable": True}  # no HTTP in the clock
    dockerfile = (ROOT / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (.+)$", dockerfile, re.M)
    assert " ".join(json.loads(cmd)) == PROCESSES["web"]
    assert "/healthz" in dockerfile
    app = json.loads((ROOT / "app.json").read_text())
    assert set(app["formation"]) == {"web", "clock"}  # release runs from the Procfile
    assert "heroku-postgresql" in app["addons"]
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= set(app["env"])
    assert app["buildpacks"] == [{"url": "heroku/python"}]


def test_requirements_pin_every_dependency_for_the_buildpack() -> None:
    """Heroku's Python buildpack needs requirements.txt (pyproject.toml alone is refused) and
    reads the version from .python-version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[-1] == "."  # slabot itself, after its pinned dependencies
    pins = {
        Requirement(line).name.lower().replace("_", "-"): Requirement(line) for line in lines[:-1]
    }
    for wanted in map(Requirement, project["dependencies"]):
        pin = pins[wanted.name.lower().replace("_", "-")]
        [exact] = pin.specifier
        assert wanted.specifier.contains(exact.version), (wanted, pin)
    assert "psycopg" in pins and "psycopg-binary" in pins  # PostgreSQL works wherever installed
    version = (ROOT / ".python-version").read_text().strip()
    assert SpecifierSet(project["requires-python"]).contains(f"{version}.0")


def test_the_entry_commands_bring_up_web_and_clock_on_postgresql(
    database_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the containers run on PostgreSQL")
    services = compose()["services"]
    port = free_port()
    env = slabot_env(database_url, fake_slack, PORT=str(port), SLABOT_SCAN_INTERVAL="3600")
    release = subprocess.run(
        [sys.executable, "-m", "bot", *services["release"]["command"][1:]],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert release.returncode == 0, release.stderr
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "clock")}
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", "bot", *services[name]["command"][1:]],
            env=env,
            stdout=logs[name].open("w"),
            stderr=subprocess.STDOUT,
        )
        for name in logs
    }
    try:
        assert wait_for(lambda: healthz(port) == 200, 30), logs["web"].read_text()
        assert wait_for(lambda: "clock active" in logs["clock"].read_text(), 30)
        assert wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").json()
                        .get("clock", {}).get("holder"), 30)  # fmt: skip
    finally:
        for process in running.values():
            process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(20) for name, process in running.items()}
    assert codes == {"web": 0, "clock": 0}, {n: p.read_text() for n, p in logs.items()}


def test_serve_with_clock_is_a_one_dyno_install(fake_slack: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    env = slabot_env(f"sqlite:///{tmp_path / 'one.db'}", fake_slack, PORT=str(port),
                     SLABOT_SCAN_INTERVAL="3600")  # fmt: skip
    log = tmp_path / "serve.log"
    serve = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--with-clock"], env=env,
                             stdout=log.open("w"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert wait_for(lambda: healthz(port) == 200, 40), log.read_text()
        assert wait_for(lambda: "clock active" in log.read_text(), 30), log.read_text()
        second = subprocess.run([sys.executable, "-m", "bot", "clock"], env=env,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert second.returncode == 1 and "another slabot clock" in second.stderr, second.stderr
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert "clock stopped" in log.read_text(), log.read_text()
    assert "Traceback" not in log.read_text()


def healthz(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return None
