#!/usr/bin/env python3
"""Sets server.json's versions (the server's and each package's: the OCI image tag, or a
package `version`) to the workspace version in Cargo.toml. Run after bumping the version;
`--check` only reports (exit 1 when they differ). Standard library only; no wxlink needed.

    scripts/sync-server-json.py [--check] [REPO_ROOT]
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path


def synced(server: dict, version: str) -> dict:
    out = json.loads(json.dumps(server))
    out["version"] = version
    for pkg in out.get("packages", []):
        if pkg.get("registryType") == "oci":
            # A digest (`@sha256:…`) pins the old build: it is dropped, not kept wrong.
            ref = pkg["identifier"].split("@", 1)[0]
            head, _, last = ref.rpartition("/")
            name = last.split(":", 1)[0]
            pkg["identifier"] = f"{head}/{name}:{version}" if head else f"{name}:{version}"
        elif "version" in pkg:
            pkg["version"] = version
    return out


def main(args: list[str]) -> int:
    check = "--check" in args
    rest = [a for a in args if a != "--check"]
    root = Path(rest[0]) if rest else Path(__file__).resolve().parents[1]
    version = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"]["version"]
    path = root / "server.json"
    server = json.loads(path.read_text())
    new = synced(server, version)
    if new == server:
        print(f"server.json: already {version}")
        return 0
    if check:
        print(f"server.json: not {version} (run scripts/sync-server-json.py)", file=sys.stderr)
        return 1
    path.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n")
    print(f"server.json: now {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
