"""The distribution metadata never goes stale (WeiLink's did): ``server.json`` (MCP registry),
``smithery.yaml``, the ``Dockerfile``, ``compose.yaml`` and the image's scripts in ``docker/``,
checked against the workspace version and the real ``wxlink`` binary.

- ``server.json``: its version, and the tag of its OCI image, are the workspace version (and
  ``wxlink --version``'s); it meets the registry's rules — the 2025-12-11 schema's constraints
  on the fields it uses (``REGISTRY_RULES`` below, written from that schema) and the rules the
  registry applies on publish beyond the schema (no ``version``/``registryBaseUrl``/
  ``fileSha256`` on an ``oci`` package, a tag, an allowed image host, the image's
  ``io.modelcontextprotocol.server.name`` label). Broken copies must fail the same checks.
- When the official schema file is at hand (``WXLINK_SERVER_SCHEMA``, or
  ``../shared/schemas/mcp-server-2025-12-11.schema.json`` beside the clone) with the published
  SHA-256, ``server.json`` is validated against it too; otherwise that one test is skipped and
  says why. The file is not in this repository (it is upstream's, not ours).
- ``smithery.yaml`` parses, names files that exist, and its config schema is a valid JSON Schema
  that its example satisfies.
- Every ``wxlink`` subcommand, option and environment variable the image, compose and
  ``server.json`` use is one the binary has (its ``--help``).
- ``docker/entrypoint.sh`` and ``docker/healthcheck.sh`` run here, without Docker, against a real
  ``wxlink serve``: token from a file, port from ``PORT``, health check passing and failing.

The image itself is built and run by ``tests/docker/smoke.sh`` (needs a Docker daemon).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sandbox_fixtures import wxlink_bin

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
# The published file's SHA-256, so a local copy is known to be exactly that file.
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
# Image hosts the registry accepts for `oci` packages.
OCI_HOSTS = {"docker.io", "ghcr.io", "quay.io", "mcr.microsoft.com"}

_VERSION_RANGE = r"^(?!latest$)(?![~^<>=*])(?!.*(\.x|\.\*)($|\.)).+$"

# The constraints of the registry's 2025-12-11 server.json schema on the fields wxlink's file
# uses, as a JSON Schema of our own (draft 7, like upstream's): required fields, lengths, the
# name pattern, the package and transport shapes, argument and variable shapes.
_INPUT = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "isRequired": {"type": "boolean"},
        "isSecret": {"type": "boolean"},
        "format": {"enum": ["string", "number", "boolean", "filepath"]},
        "value": {"type": "string"},
        "default": {"type": "string"},
        "placeholder": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "string"}},
        "variables": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}
_ARGUMENT = {
    "allOf": [_INPUT],
    "oneOf": [
        {
            "properties": {"type": {"const": "positional"}},
            "required": ["type"],
            "anyOf": [{"required": ["value"]}, {"required": ["valueHint"]}],
        },
        {
            "properties": {"type": {"const": "named"}, "name": {"type": "string", "pattern": "^-"}},
            "required": ["type", "name"],
        },
    ],
}
REGISTRY_RULES: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["name", "description", "version"],
    "properties": {
        "$schema": {"const": SCHEMA_URL},
        "name": {
            "type": "string",
            "minLength": 3,
            "maxLength": 200,
            "pattern": "^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$",
        },
        "title": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string", "minLength": 1, "maxLength": 100},
        "version": {"type": "string", "maxLength": 255, "pattern": _VERSION_RANGE},
        "websiteUrl": {"type": "string", "pattern": "^https://"},
        "repository": {
            "type": "object",
            "required": ["url", "source"],
            "properties": {"url": {"type": "string", "pattern": "^https://"}, "source": {"type": "string"}},
        },
        "packages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["registryType", "identifier", "transport"],
                "properties": {
                    "registryType": {"enum": ["npm", "pypi", "nuget", "oci", "mcpb"]},
                    "identifier": {"type": "string", "minLength": 1},
                    "version": {"type": "string", "minLength": 1, "pattern": _VERSION_RANGE},
                    "runtimeHint": {"type": "string"},
                    "transport": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {"type": {"enum": ["stdio", "streamable-http", "sse"]}},
                    },
                    "runtimeArguments": {"type": "array", "items": _ARGUMENT},
                    "packageArguments": {"type": "array", "items": _ARGUMENT},
                    "environmentVariables": {
                        "type": "array",
                        "items": {"allOf": [_INPUT], "required": ["name"]},
                    },
                },
            },
        },
    },
}


def load_server() -> dict[str, Any]:
    return json.loads((ROOT / "server.json").read_text(encoding="utf-8"))


def workspace() -> dict[str, Any]:
    return tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))["workspace"]["package"]


def crate_version() -> str:
    crate = tomllib.loads((ROOT / "crates/wxlink/Cargo.toml").read_text(encoding="utf-8"))
    version = crate["package"]["version"]
    return workspace()["version"] if version == {"workspace": True} else version


def oci_tag(identifier: str) -> str | None:
    """The tag of `[host/]path[:tag][@digest]`, if any."""
    ref = identifier.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def rule_errors(server: dict[str, Any]) -> list[str]:
    """Why the registry would refuse `server`: REGISTRY_RULES plus its publish-time rules."""
    errors = [e.message for e in jsonschema.Draft7Validator(REGISTRY_RULES).iter_errors(server)]
    for i, pkg in enumerate(server.get("packages", [])):
        where = f"package {i}"
        if pkg.get("runtimeArguments") and not pkg.get("runtimeHint"):
            errors.append(f"{where}: runtimeArguments without runtimeHint")
        if pkg.get("registryType") != "oci":
            continue
        for field in ("version", "registryBaseUrl", "fileSha256"):
            if field in pkg:
                errors.append(f"{where}: an oci package must not have {field!r}")
        identifier = pkg.get("identifier", "")
        host = identifier.split("/", 1)[0] if "/" in identifier else ""
        if host not in OCI_HOSTS:
            errors.append(f"{where}: image host {host!r} is not one of {sorted(OCI_HOSTS)}")
        if oci_tag(identifier) in (None, "", "latest"):
            errors.append(f"{where}: the image needs a version tag")
    return errors


def help_text(*args: str) -> str:
    out = subprocess.run(
        [wxlink_bin(), *args, "--help"], capture_output=True, text=True, timeout=30, check=True
    )
    return out.stdout


def options_of(*subcommand: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[a-zA-Z])\b", help_text(*subcommand)))


def subcommands() -> set[str]:
    text = help_text()
    block = text.split("Commands:", 1)[1].split("Options:", 1)[0]
    return {line.split()[0] for line in block.splitlines() if line.strip()}


# --- server.json -------------------------------------------------------------------------------


def test_server_json_versions_follow_the_crate():
    version = crate_version()
    out = subprocess.run([wxlink_bin(), "--version"], capture_output=True, text=True, timeout=30)
    assert out.stdout.split() == ["wxlink", version], "the binary under test is another version"
    server = load_server()
    assert server["version"] == version
    assert server["packages"], "no package"
    for pkg in server["packages"]:
        if pkg["registryType"] == "oci":
            assert oci_tag(pkg["identifier"]) == version, pkg["identifier"]
        else:
            assert pkg.get("version") == version, pkg


def test_server_json_names_this_repository():
    repo = workspace()["repository"]
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repo)
    assert m, f"Cargo.toml's repository is not a GitHub URL: {repo}"
    owner, name = m.groups()
    server = load_server()
    # The registry proves `io.github.<login>/…` by a GitHub login of that exact spelling.
    assert server["name"] == f"io.github.{owner}/{name}"
    assert server["repository"] == {"url": repo, "source": "github"}
    images = [p["identifier"] for p in server["packages"] if p["registryType"] == "oci"]
    assert images == [f"ghcr.io/{owner.lower()}/{name.lower()}:{crate_version()}"]


def test_server_json_meets_the_registry_rules():
    assert rule_errors(load_server()) == []


BROKEN = {
    "description over 100 chars": ("description", "x" * 101),
    "no description": ("description", KeyError),
    "name without namespace": ("name", "wxlink"),
    "name with two slashes": ("name", "io.github.wxlink/wx/link"),
    "version range": ("version", "^0.1.0"),
    "version latest": ("version", "latest"),
    "older schema": ("$schema", SCHEMA_URL.replace("2025-12-11", "2025-10-17")),
    "oci with version": ("packages.0.version", "0.1.0"),
    "oci with registryBaseUrl": ("packages.0.registryBaseUrl", "https://docker.io"),
    "image without tag": ("packages.0.identifier", "ghcr.io/wxlink/wxlink"),
    "image tagged latest": ("packages.0.identifier", "ghcr.io/wxlink/wxlink:latest"),
    "image on another host": ("packages.0.identifier", "registry.example/wxlink/wxlink:0.1.0"),
    "unknown transport": ("packages.0.transport", {"type": "websocket"}),
    "runtime arguments without hint": ("packages.0.runtimeHint", KeyError),
    "positional without value": ("packages.0.packageArguments.0.value", KeyError),
    "named without name": ("packages.0.runtimeArguments.0.name", KeyError),
    "unknown registry type": ("packages.0.registryType", "cargo"),
}


@pytest.mark.parametrize("path,value", BROKEN.values(), ids=BROKEN.keys())
def test_broken_copies_are_refused(path: str, value: Any):
    server = copy.deepcopy(load_server())
    *parents, last = path.split(".")
    node: Any = server
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    assert rule_errors(server), "a broken server.json passed the checks"


def test_sync_script_bumps_every_version(tmp_path: Path):
    cargo = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    old = crate_version()
    (tmp_path / "Cargo.toml").write_text(cargo.replace(f'version = "{old}"', 'version = "9.8.7"', 1))
    (tmp_path / "server.json").write_text((ROOT / "server.json").read_text(encoding="utf-8"))
    script = [sys.executable, str(ROOT / "scripts/sync-server-json.py")]
    assert subprocess.run([*script, "--check", str(tmp_path)]).returncode == 1
    assert subprocess.run([*script, str(tmp_path)]).returncode == 0
    bumped = json.loads((tmp_path / "server.json").read_text())
    assert bumped["version"] == "9.8.7"
    assert [oci_tag(p["identifier"]) for p in bumped["packages"]] == ["9.8.7"]
    assert rule_errors(bumped) == []
    assert subprocess.run([*script, "--check", str(tmp_path)]).returncode == 0
    assert subprocess.run([*script, "--check", str(ROOT)]).returncode == 0


def official_schema() -> Path | None:
    given = os.environ.get("WXLINK_SERVER_SCHEMA")
    if given:
        return Path(given)
    beside = ROOT.parent / "shared" / "schemas" / "mcp-server-2025-12-11.schema.json"
    return beside if beside.is_file() else None


def test_server_json_validates_against_the_official_schema():
    path = official_schema()
    if path is None:
        pytest.skip(
            "the registry's 2025-12-11 schema file is not at hand: set WXLINK_SERVER_SCHEMA to "
            f"a copy of {SCHEMA_URL} (REGISTRY_RULES still checked its constraints)"
        )
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, f"{path} is not the published file"
    schema = json.loads(raw)
    assert schema["$id"] == SCHEMA_URL
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(load_server())]
    assert errors == []
    broken = copy.deepcopy(load_server())
    broken["description"] = "x" * 101
    assert not validator.is_valid(broken)


# --- smithery.yaml, Dockerfile, compose.yaml ---------------------------------------------------


def test_smithery_yaml_builds_this_image_and_runs_stdio():
    smithery = yaml.safe_load((ROOT / "smithery.yaml").read_text(encoding="utf-8"))
    assert smithery["runtime"] == "container"
    build = smithery["build"]
    assert (ROOT / build["dockerBuildPath"] / build["dockerfile"]).is_file()
    start = smithery["startCommand"]
    # stdio: nothing listens, so no token is needed (wxlink refuses one in a query string).
    assert start["type"] == "stdio"
    command = start["commandFunction"]
    assert 'command: "wxlink"' in command
    assert '"mcp"' in command and '"--tools"' in command
    help_text = subprocess.run([wxlink_bin(), "mcp", "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "--tools" in help_text
    schema = start["configSchema"]
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(start["exampleConfig"], schema)
    # The choices are the ones `wxlink mcp --tools` takes.
    for choice in schema["properties"]["tools"]["enum"]:
        r = subprocess.run([wxlink_bin(), "mcp", "--tools", choice, "--help"],
                           capture_output=True, text=True)
        assert r.returncode == 0, (choice, r.stderr)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tools": "everything"}, schema)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instruction(text: str, name: str) -> list[str]:
    """The arguments of every `NAME …` instruction of the runtime stage, continuation lines joined."""
    runtime = text.rsplit("\nFROM ", 1)[1]
    joined = re.sub(r"\\\n\s*", " ", runtime)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_dockerfile_runtime_stage():
    text = dockerfile()
    assert text.count("\nFROM ") == 2, "a build stage and a runtime stage"
    assert instruction(text, "USER") == ["wxlink:wxlink"]
    assert "--uid 10001" in instruction(text, "RUN")[0]
    assert instruction(text, "VOLUME") == ['["/data"]']
    env = " ".join(instruction(text, "ENV"))
    assert "WXLINK_HOME=/data" in env and "PORT=8000" in env
    assert instruction(text, "EXPOSE") == ["8000"]
    assert instruction(text, "HEALTHCHECK")[0].endswith('CMD ["/usr/local/bin/wxlink-healthcheck"]')
    labels = " ".join(instruction(text, "LABEL"))
    assert f'io.modelcontextprotocol.server.name="{load_server()["name"]}"' in labels
    # The runtime stage copies the binary and the scripts, nothing from the build context.
    assert instruction(text, "COPY") == ["--from=build /out/ /"]


def test_compose_runs_serve_on_loopback_with_a_secret_and_the_volume():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    svc = compose["services"]["wxlink"]
    assert svc["command"] == ["serve"]
    assert all(p.startswith("127.0.0.1:") and p.endswith(":8000") for p in svc["ports"]), svc["ports"]
    assert svc["volumes"] == ["wxlink-data:/data"] and "wxlink-data" in compose["volumes"]
    assert svc["environment"]["WXLINK_TOKEN_FILE"] == "/run/secrets/wxlink_token"
    assert svc["secrets"] == ["wxlink_token"]
    assert compose["secrets"]["wxlink_token"] == {"environment": "WXLINK_TOKEN"}
    assert "WXLINK_TOKEN" not in svc["environment"], "the token belongs in the secret"


def entrypoint_serve_flags() -> list[str]:
    """The options `docker/entrypoint.sh` gives `wxlink serve`."""
    text = (ROOT / "docker/entrypoint.sh").read_text(encoding="utf-8")
    lines = [l.strip() for l in text.splitlines() if l.strip().startswith("exec wxlink serve")]
    assert len(lines) == 1, lines
    return [w for w in shlex.split(lines[0].replace('"', "")) if w.startswith("-")]


def test_start_commands_use_real_wxlink_options():
    commands = subcommands()
    # The image's default command, compose's and Smithery's (both the default) is `serve`.
    cmd = json.loads(instruction(dockerfile(), "CMD")[0])
    assert cmd == ["serve"] and "serve" in commands
    serve = options_of("serve")
    flags = entrypoint_serve_flags()
    assert flags == ["--host", "--port"]
    assert set(flags) <= serve, set(flags) - serve
    # server.json's package arguments: `mcp` (stdio by default).
    for pkg in load_server()["packages"]:
        args = [a["value"] for a in pkg.get("packageArguments", [])]
        assert args == ["mcp"] and "mcp" in commands
    # The environment the image and compose rely on.
    assert "WXLINK_TOKEN" in help_text("serve")
    top = help_text()
    for var in ("WXLINK_HOME", "WXLINK_LOG"):
        assert f"env: {var}" in top, var
    env = [v["name"] for p in load_server()["packages"] for v in p.get("environmentVariables", [])]
    assert all(f"env: {v}" in top for v in env), env


# --- the image's scripts, run here against a real `wxlink serve` --------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def served(tmp_path: Path):
    """`docker/entrypoint.sh` (no arguments: serve) with `wxlink` on PATH, bound to loopback on
    PORT, the token in WXLINK_TOKEN_FILE."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "wxlink").symlink_to(Path(wxlink_bin()).resolve())
    token = "container-token-0123456789"
    (tmp_path / "token").write_text(token + "\n")
    port = free_port()
    env = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "PORT": str(port),
        "WXLINK_BIND": "127.0.0.1",
        "WXLINK_HOME": str(tmp_path / "data"),
        "WXLINK_TOKEN_FILE": str(tmp_path / "token"),
        "NO_PROXY": "*",
    }
    stderr = open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen(
        ["sh", str(ROOT / "docker/entrypoint.sh")], env=env, stdout=subprocess.DEVNULL, stderr=stderr
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if get(f"{base}/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"wxlink serve did not come up: {(tmp_path / 'stderr').read_text()}")
    try:
        yield {"base": base, "token": token, "env": env, "port": port, "data": tmp_path / "data"}
    finally:
        proc.terminate()
        code = proc.wait(timeout=15)
        stderr.close()
    assert code == 0, f"exit code {code} after SIGTERM"


def healthcheck(env: dict[str, str], port: int) -> int:
    run_env = {**env, "PORT": str(port)}
    return subprocess.run(
        ["bash", str(ROOT / "docker/healthcheck.sh")], env=run_env, timeout=15
    ).returncode


def test_entrypoint_serves_with_the_token_from_the_file(served):
    status, body = get(f"{served['base']}/health")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    assert get(f"{served['base']}/api/v1/sessions")[0] == 401
    bearer = {"Authorization": f"Bearer {served['token']}"}
    assert get(f"{served['base']}/api/v1/sessions", bearer)[0] == 200
    assert get(f"{served['base']}/admin/")[0] == 200, "serve includes the admin panel"
    assert (served["data"] / "wxlink.db").is_file()


def test_healthcheck_passes_on_the_served_port_and_fails_on_another(served):
    assert healthcheck(served["env"], served["port"]) == 0
    assert healthcheck(served["env"], free_port()) == 1


def test_healthcheck_passes_when_nothing_serves():
    # No `wxlink serve` process (stdio `mcp`, `login`): nothing to probe. Run in a PID namespace
    # of its own, as in a container, so that servers elsewhere on this machine are not seen.
    argv = ["unshare", "--pid", "--fork", "--mount-proc", "bash", str(ROOT / "docker/healthcheck.sh")]
    if subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"]).returncode != 0:
        pytest.skip("cannot make a PID namespace here (unshare needs root)")
    env = {"PATH": os.environ["PATH"], "PORT": str(free_port())}
    assert subprocess.run(argv, env=env, timeout=15).returncode == 0


def test_entrypoint_refuses_an_unreadable_token_file(tmp_path: Path):
    env = {"PATH": os.environ["PATH"], "WXLINK_TOKEN_FILE": str(tmp_path / "missing")}
    out = subprocess.run(
        ["sh", str(ROOT / "docker/entrypoint.sh")], env=env, capture_output=True, text=True, timeout=15
    )
    assert out.returncode == 2 and "WXLINK_TOKEN_FILE" in out.stderr


def test_entrypoint_passes_other_commands_through(tmp_path: Path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "wxlink").symlink_to(Path(wxlink_bin()).resolve())
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "WXLINK_HOME": str(tmp_path / "data")}
    out = subprocess.run(
        ["sh", str(ROOT / "docker/entrypoint.sh"), "--version"],
        env=env, capture_output=True, text=True, timeout=15,
    )
    assert out.returncode == 0 and out.stdout.split() == ["wxlink", crate_version()], out


# --- compose.replicas.yaml: PostgreSQL, three replicas, HAProxy -----------------------------------


def test_replicas_compose_shares_one_database_behind_the_proxy():
    compose = yaml.safe_load((ROOT / "compose.replicas.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "wxlink", "proxy"}, set(services)
    wx = services["wxlink"]
    assert wx["command"] == ["serve"] and wx["deploy"]["replicas"] == 3
    assert "ports" not in wx, "replicas are reached through the proxy only"
    env = wx["environment"]
    # Secrets as files, never in the environment `docker inspect` shows.
    for var, secret in (("WXLINK_TOKEN_FILE", "wxlink_token"),
                        ("WXLINK_DATABASE_URL_FILE", "wxlink_database_url"),
                        ("WXLINK_DATABASE_KEY_FILE", "wxlink_database_key")):
        assert env[var] == f"/run/secrets/{secret}" and secret in wx["secrets"], var
        assert secret in compose["secrets"], secret
    assert not {"WXLINK_TOKEN", "WXLINK_DATABASE_URL", "WXLINK_DATABASE_KEY"} & set(env)
    # Every variable wxlink reads itself is a real option's; the URL file is the entrypoint's.
    top = help_text()
    for var in ("WXLINK_DATABASE_KEY_FILE", "WXLINK_DATABASE_URL", "WXLINK_LOG"):
        assert f"env: {var}" in top, var
    assert "WXLINK_DATABASE_URL_FILE" in (ROOT / "docker/entrypoint.sh").read_text(encoding="utf-8")
    assert wx["depends_on"]["postgres"]["condition"] == "service_healthy"
    pg = services["postgres"]
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/pg_password"
    proxy = services["proxy"]
    assert all(p.startswith("127.0.0.1:") for p in proxy["ports"]), proxy["ports"]
    cfg_mount = next(v for v in proxy["volumes"] if "haproxy.cfg" in v)
    assert (ROOT / cfg_mount.split(":")[0]).is_file(), cfg_mount
    cfg = (ROOT / "docker/haproxy.cfg").read_text(encoding="utf-8")
    assert "stick store-response res.hdr(mcp-session-id)" in cfg
    assert "server-template wxlink 3 wxlink:8000" in cfg
    assert "migrate-store" in help_text(), "the README's way in"


def test_entrypoint_reads_the_database_url_from_a_file(tmp_path: Path):
    # `wxlink --version` through the entrypoint with the URL file set: it is read and exported
    # (an unreadable one is refused before wxlink starts).
    env = {"PATH": os.environ["PATH"], "WXLINK_DATABASE_URL_FILE": str(tmp_path / "missing")}
    out = subprocess.run(["sh", str(ROOT / "docker/entrypoint.sh"), "--version"], env=env,
                         capture_output=True, text=True, timeout=15)
    assert out.returncode == 2 and "WXLINK_DATABASE_URL_FILE" in out.stderr, out
    (tmp_path / "url").write_text("postgres://wx:pw@127.0.0.1:1/wx\n")
    show = tmp_path / "bin"
    show.mkdir()
    (show / "wxlink").write_text('#!/bin/sh\nprintf "%s" "$WXLINK_DATABASE_URL"\n')
    (show / "wxlink").chmod(0o755)
    env = {"PATH": f"{show}:{os.environ['PATH']}", "WXLINK_DATABASE_URL_FILE": str(tmp_path / "url")}
    out = subprocess.run(["sh", str(ROOT / "docker/entrypoint.sh"), "status"], env=env,
                         capture_output=True, text=True, timeout=15)
    assert out.returncode == 0 and out.stdout == "postgres://wx:pw@127.0.0.1:1/wx", out
