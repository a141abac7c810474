"""docker-compose.yml and the Dockerfile: no secret written in them, DEBUG off unless the
development override turns it on, the processes not root. (No Docker engine here: the
docker-compose client renders and validates the files.)"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")
REQUIRED = {"SECRET_KEY": "s" * 50, "POSTGRES_PASSWORD": "pw", "ALLOWED_HOSTS": "example.com"}

needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="the docker-compose client is not installed (.ci/run installs it)",
)


def compose(*files: str, **environment: str) -> subprocess.CompletedProcess:
    args = ["docker-compose", "--project-directory", str(ROOT)]
    for name in files:
        args += ["-f", str(ROOT / name)]
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED and k != "DEBUG"}
    return subprocess.run(  # noqa: S603 - a fixed command
        [*args, "config"],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",  # no `.env` of a developer's is read
    )


def rendered(*files: str) -> dict:
    result = compose(*files, **REQUIRED)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@needs_compose
def test_the_compose_file_validates_once_the_required_variables_are_set():
    assert compose("docker-compose.yml", **REQUIRED).returncode == 0


@needs_compose
@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_it_refuses_to_render_without_a_required_secret(missing):
    environment = {k: v for k, v in REQUIRED.items() if k != missing}
    result = compose("docker-compose.yml", **environment)
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


@needs_compose
def test_debug_is_off_in_every_app_service():
    services = rendered("docker-compose.yml")["services"]
    for name in APP_SERVICES:
        assert services[name]["environment"]["DEBUG"] == "0"


@needs_compose
def test_only_the_development_override_turns_debug_on():
    services = rendered("docker-compose.yml", "docker-compose.dev.yml")["services"]
    for name in APP_SERVICES:
        assert services[name]["environment"]["DEBUG"] == "1"


SECRET_NAME = re.compile(r"SECRET|PASSWORD|_KEY|TOKEN")


def test_no_secret_is_written_in_the_compose_files():
    """Every variable that names a secret takes its value from the environment (or `.env`),
    with no default written beside it."""
    for name in ("docker-compose.yml", "docker-compose.dev.yml"):
        text = (ROOT / name).read_text()
        data = yaml.safe_load(text)
        environments = [data.get("x-app", {}).get("environment", {})]
        environments += [s.get("environment", {}) for s in data["services"].values()]
        for environment in environments:
            for variable, value in environment.items():
                if SECRET_NAME.search(variable):
                    assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*|:-)?\}", str(value)), (
                        f"{name}: {variable} is written in the file"
                    )
        assert "postgres://consult:consult@" not in text


def test_the_image_runs_as_an_unprivileged_user():
    instructions = [
        line.split(None, 1)
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(" ")
    ]
    users = [args.strip() for keyword, *rest in instructions if keyword == "USER" for args in rest]
    assert users, "the Dockerfile has no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_secrets_files_stay_out_of_the_image_and_the_repository():
    assert ".env" in (ROOT / ".dockerignore").read_text().split()
    assert ".env" in (ROOT / ".gitignore").read_text().split()
