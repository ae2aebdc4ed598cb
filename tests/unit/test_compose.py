"""The production-shaped stack: docker-compose.yml, Dockerfile, .env.example, .dockerignore.

No Docker engine runs here (nor in CI), so these tests read the files: the YAML with
PyYAML, variables interpolated the way Compose does it. What they hold to:

- the services exist, every Airflow component runs the CeleryExecutor from one image;
- the URLs and Airflow connections point at the services that serve them, with the
  credentials those services are given, and the connections work with lienthong's own
  code (the Ministry one against a real demo server over 127.0.0.1);
- no secret is written in the file: each comes from a required variable, and Compose
  refuses to start without it; ``.env.example`` lists every variable, secrets empty;
- ``depends_on`` names real services with conditions they can meet; the worker scales.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml

from lienthong.ministry.hook import MinistryPopulationHook
from lienthong.warehouse.connection import warehouse_url
from lienthong_demo.citizens import generate_citizens
from lienthong_demo.ministry_server import MinistryServer

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

EXPECTED_SERVICES = {
    "postgres-metadata",
    "warehouse",
    "redis",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "ministry-demo",
}
AIRFLOW_SERVICES = sorted(name for name in EXPECTED_SERVICES if name.startswith("airflow-"))

# Variable names that hold a secret; each must be required (${VAR:?...}) wherever it is used.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY$|AUTH$")

# Compose's interpolation: $$ (a literal $), ${VAR}, ${VAR:-default}, ${VAR-default},
# ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, and bare $VAR.
_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(Exception):
    """A required variable (``${VAR:?...}``) is unset or empty: Compose would refuse to run."""


@dataclass(frozen=True)
class Reference:
    """One ``${...}`` in the compose file: the variable, its operator and the operator's text."""

    name: str
    op: str | None
    arg: str | None


def _walk_strings(node: Any) -> Iterator[str]:
    """Every string value (not key) of a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_strings(value)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute variables in one string as Compose does (the subset Compose files use)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op == ":+":
            return arg if value else ""
        if op == "+":
            return arg if value is not None else ""
        return value or ""

    return _REFERENCE.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """The parsed compose file with every string value interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, Mapping):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    return node


@functools.cache
def raw_compose() -> dict[str, Any]:
    """docker-compose.yml as PyYAML parses it (anchors and ``<<`` merges resolved)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@functools.cache
def references() -> tuple[Reference, ...]:
    """Every variable reference in the compose file's values (comments excluded)."""
    found = []
    for text in _walk_strings(raw_compose()):
        for match in _REFERENCE.finditer(text):
            if match.group(0) != "$$":
                name = match.group("name") or match.group("bare")
                found.append(Reference(name, match.group("op"), match.group("arg")))
    return tuple(found)


def required_variables() -> set[str]:
    """Variables referenced with ``:?`` (or ``?``): no default, Compose stops without them."""
    return {ref.name for ref in references() if ref.op in (":?", "?")}


def sentinel(name: str) -> str:
    """A recognisable value for variable ``name``, URL- and JSON-safe like a real secret."""
    return f"sentinel-{name.lower().replace('_', '-')}"


def compose(**overrides: str) -> dict[str, Any]:
    """The compose file as Compose would see it: every required variable set to its sentinel,
    optional ones at their defaults unless overridden."""
    env = {name: sentinel(name) for name in required_variables()}
    env.update(overrides)
    return interpolate_tree(raw_compose(), env)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment, whether written as a mapping or as a KEY=VALUE list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command(service: Mapping[str, Any]) -> list[str]:
    """A service's command as an argument list."""
    cmd = service.get("command") or []
    return shlex.split(cmd) if isinstance(cmd, str) else [str(arg) for arg in cmd]


def option(args: list[str], flag: str) -> str:
    """The value after ``flag`` in an argument list."""
    assert flag in args, f"{flag} missing from {args}"
    return args[args.index(flag) + 1]


def env_example() -> dict[str, str]:
    """``.env.example`` as KEY -> value (comments and blank lines skipped)."""
    entries = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            entries[key.strip()] = value.strip()
    return entries


# --- Services ------------------------------------------------------------------------------


def test_every_service_of_the_stack_is_defined_and_no_version_key():
    data = raw_compose()

    assert set(data["services"]) == EXPECTED_SERVICES
    assert "version" not in data  # obsolete in the Compose specification


def test_airflow_components_run_the_celery_executor_from_one_image():
    services = compose()["services"]
    images = {
        (services[name]["image"], json.dumps(services[name]["build"])) for name in AIRFLOW_SERVICES
    }

    for name in AIRFLOW_SERVICES:
        assert environment(services[name])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    assert images == {
        ("lienthong-airflow:local", json.dumps({"context": ".", "dockerfile": "Dockerfile"}))
    }
    # The demo API runs lienthong's own CLI, so it shares that image.
    assert services["ministry-demo"]["image"] == "lienthong-airflow:local"


def test_airflow_3_components_have_their_own_commands():
    services = compose()["services"]

    assert command(services["airflow-apiserver"])[:2] == ["airflow", "api-server"]
    assert command(services["airflow-scheduler"]) == ["airflow", "scheduler"]
    assert command(services["airflow-dag-processor"]) == ["airflow", "dag-processor"]
    assert command(services["airflow-worker"]) == ["airflow", "celery", "worker"]
    assert command(services["airflow-triggerer"]) == ["airflow", "triggerer"]
    assert "airflow db migrate" in command(services["airflow-init"])[0]
    # Airflow 3 has no webserver command.
    assert not any("webserver" in command(service) for service in services.values())


def test_airflow_components_share_one_configuration():
    services = compose()["services"]
    shared = environment(services["airflow-scheduler"])
    keys = (
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW_CONN_WAREHOUSE",
        "AIRFLOW_CONN_MINISTRY_POPULATION",
    )

    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        assert {key: env.get(key) for key in keys} == {key: shared[key] for key in keys}, name
    # Only the init job learns the admin password.
    holders = [
        name for name, svc in services.items() if "AIRFLOW_ADMIN_PASSWORD" in environment(svc)
    ]
    assert holders == ["airflow-init"]


# --- Where each URL points ------------------------------------------------------------------


def test_broker_is_the_redis_service_with_its_password():
    services = compose()["services"]
    broker = urlsplit(environment(services["airflow-worker"])["AIRFLOW__CELERY__BROKER_URL"])

    assert (broker.scheme, broker.hostname, broker.port, broker.path) == (
        "redis",
        "redis",
        6379,
        "/0",
    )
    assert broker.password == option(command(services["redis"]), "--requirepass")
    assert broker.password == sentinel("REDIS_PASSWORD")


def test_metadata_database_and_result_backend_are_postgres_metadata():
    services = compose()["services"]
    env = environment(services["airflow-scheduler"])
    db = environment(services["postgres-metadata"])

    for key, scheme in (
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2"),
        ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql"),
    ):
        url = urlsplit(env[key])
        assert (url.scheme, url.hostname, url.port) == (scheme, "postgres-metadata", 5432), key
        assert (url.username, url.password, url.path) == (
            db["POSTGRES_USER"],
            db["POSTGRES_PASSWORD"],
            "/" + db["POSTGRES_DB"],
        ), key


def test_workers_reach_the_execution_api_on_the_api_server():
    services = compose()["services"]
    url = urlsplit(
        environment(services["airflow-worker"])["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    )
    port = int(option(command(services["airflow-apiserver"]), "--port"))

    assert (url.scheme, url.hostname, url.port, url.path) == (
        "http",
        "airflow-apiserver",
        port,
        "/execution/",
    )


def test_warehouse_connection_resolves_to_the_warehouse_service(monkeypatch):
    services = compose()["services"]
    warehouse = environment(services["warehouse"])
    monkeypatch.delenv("LIENTHONG_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", environment(services["airflow-worker"])["AIRFLOW_CONN_WAREHOUSE"]
    )

    # lienthong's own resolution: environment, then the Airflow connection "warehouse".
    params = psycopg.conninfo.conninfo_to_dict(warehouse_url())

    assert params == {
        "host": "warehouse",
        "port": "5432",
        "user": warehouse["POSTGRES_USER"],
        "password": warehouse["POSTGRES_PASSWORD"],
        "dbname": warehouse["POSTGRES_DB"],
    }
    assert (params["user"], params["dbname"]) == ("lienthong", "lienthong")


def test_ministry_connection_points_at_the_demo_server_with_its_token():
    services = compose()["services"]
    conn = json.loads(environment(services["airflow-worker"])["AIRFLOW_CONN_MINISTRY_POPULATION"])
    demo = services["ministry-demo"]
    args = command(demo)

    assert args[:2] == ["lienthong-demo", "serve-ministry"]
    assert option(args, "--host") == "0.0.0.0"
    assert conn == {
        "conn_type": "http",
        "host": "ministry-demo",
        "port": int(option(args, "--port")),
        "schema": "http",
        "password": environment(demo)["LIENTHONG_MINISTRY_TOKEN"],
    }


def test_ministry_connection_works_with_the_hook_against_a_real_server(monkeypatch):
    citizens = [generated.item for generated in generate_citizens(7, seed=6)]
    token = sentinel("LIENTHONG_MINISTRY_TOKEN")

    with MinistryServer(citizens, token=token) as server:
        # The compose file's connection, with its host and port overridden to this server.
        services = compose(MINISTRY_API_HOST="127.0.0.1", MINISTRY_API_PORT=str(server.port))[
            "services"
        ]
        monkeypatch.setenv(
            "AIRFLOW_CONN_MINISTRY_POPULATION",
            environment(services["airflow-worker"])["AIRFLOW_CONN_MINISTRY_POPULATION"],
        )
        pages = list(MinistryPopulationHook(page_size=5, timeout=5.0).iter_pages())

    assert [len(page.items) for page in pages] == [5, 2]
    assert [item for page in pages for item in page.items] == citizens


# --- Secrets -------------------------------------------------------------------------------


def _credentials(services: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, value) of every credential the stack hands out, after interpolation."""
    for name, service in services.items():
        for key, value in environment(service).items():
            where = f"{name}.{key}"
            # A *_FILE setting names where a secret is kept, not the secret.
            if SECRET_NAME.search(key.removeprefix("AIRFLOW__")) and not key.endswith("_FILE"):
                yield where, value
            if key.startswith("AIRFLOW_CONN_"):
                yield where + ".password", json.loads(value)["password"]
            elif "://" in value and "@" in value:
                yield where + " (URL password)", urlsplit(value).password or ""
        args = command(service)
        for flag in ("--requirepass", "--token", "--password"):
            if flag in args:
                yield f"{name} command {flag}", option(args, flag)


def test_every_credential_comes_from_a_required_variable():
    services = compose()["services"]
    credentials = dict(_credentials(services))
    sentinels = {sentinel(name) for name in required_variables()}

    # Every credential is a variable's value, never text written in the file.
    assert {where: value for where, value in credentials.items() if value not in sentinels} == {}
    assert len(credentials) >= 20
    # And every secret variable reaches at least one service.
    assert set(credentials.values()) == sentinels


def test_secret_variables_never_have_a_default():
    secret_refs = [ref for ref in references() if SECRET_NAME.search(ref.name)]

    assert {ref.name for ref in secret_refs} == {
        "AIRFLOW_DB_PASSWORD",
        "WAREHOUSE_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
        "LIENTHONG_MINISTRY_TOKEN",
    }
    assert [ref for ref in secret_refs if ref.op != ":?"] == []


@pytest.mark.parametrize(
    "missing",
    [
        "AIRFLOW_DB_PASSWORD",
        "WAREHOUSE_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
        "LIENTHONG_MINISTRY_TOKEN",
    ],
)
def test_compose_refuses_to_start_with_a_secret_left_empty(missing):
    with pytest.raises(MissingVariable, match=rf"^{missing}: set {missing} in \.env$"):
        compose(**{missing: ""})


def test_env_example_lists_every_variable_with_secrets_left_empty():
    example = env_example()
    referenced = {ref.name for ref in references()}
    defaults = {ref.name: ref.arg for ref in references() if ref.op == ":-"}

    assert set(example) == referenced
    assert {name: example[name] for name in required_variables()} == dict.fromkeys(
        required_variables(), ""
    )
    # The optional values shown are the file's defaults, so the example documents them.
    assert {name: example[name] for name in defaults} == defaults


# --- Start order, health, scaling -----------------------------------------------------------


def test_depends_on_names_existing_services_with_conditions_they_can_meet():
    services = raw_compose()["services"]
    checked = 0

    for name, service in services.items():
        depends_on = service.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = {target: {"condition": "service_started"} for target in depends_on}
        for target, rule in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name}: {target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert target == "airflow-init", f"{name}: {target} is not a one-off job"
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition}"
            checked += 1

    assert checked >= 15
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-worker", "airflow-triggerer"):
        assert services[name]["depends_on"]["airflow-init"] == {
            "condition": "service_completed_successfully"
        }
    assert services["airflow-worker"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {
        "condition": "service_healthy"
    }


def test_every_long_running_service_has_a_healthcheck_and_the_init_job_runs_once():
    services = raw_compose()["services"]

    assert sorted(name for name, svc in services.items() if "healthcheck" not in svc) == [
        "airflow-init"
    ]
    assert services["airflow-init"]["restart"] == "no"


def test_worker_can_be_scaled():
    worker = raw_compose()["services"]["airflow-worker"]

    # A fixed name, hostname or host port would make a second replica fail to start.
    assert "container_name" not in worker
    assert "hostname" not in worker
    assert "ports" not in worker


# --- Dockerfile and build context ----------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


def test_dockerfile_installs_the_pinned_set_then_the_project_and_copies_its_folders():
    instructions = _dockerfile_instructions()
    runs = [args for keyword, args in instructions if keyword == "RUN"]
    copies = [args for keyword, args in instructions if keyword == "COPY"]

    assert instructions[0][0] == "FROM"
    assert instructions[0][1].startswith("python:3.11-slim")
    requirements = next(i for i, run in enumerate(runs) if "pip install -r requirements.txt" in run)
    project = next(i for i, run in enumerate(runs) if "pip install --no-deps -e ." in run)
    assert requirements < project
    for folder in ("dags", "plugins", "expectations", "sql"):
        assert f"{folder}/ {folder}/" in copies
    # The CeleryExecutor needs the Celery provider and a Redis client, each pinned.
    celery = next(run for run in runs if "apache-airflow-providers-celery" in run)
    packages = [arg for arg in celery.split("&&")[0].split()[2:] if not arg.startswith("-")]
    packages.remove("requirements.txt")  # the -c constraints file
    assert "redis==6.4.0" in packages
    assert [package for package in packages if "==" not in package] == []


def test_dockerfile_bakes_in_no_secret_and_matches_the_compose_paths():
    instructions = _dockerfile_instructions()
    settings = " ".join(args for keyword, args in instructions if keyword in ("ENV", "ARG"))
    workdirs = [args for keyword, args in instructions if keyword == "WORKDIR"]
    env = environment(compose()["services"]["airflow-scheduler"])

    assert not SECRET_NAME.search(settings.upper()), settings
    assert [keyword for keyword, _ in instructions if keyword == "USER"] == ["USER"]
    # The project is copied where the compose file tells Airflow to look for DAGs and plugins.
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{workdirs[0]}/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{workdirs[0]}/plugins"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context():
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".env", ".git/", ".venv/", ".lienthong/", ".airflow/"} <= patterns
