"""The real agents read what `wxlink setup` wrote.

In a temporary HOME, with `wxlink sandbox` playing WeChat and one fake account logged in,
this runs `wxlink setup <client>` for Claude Code, Codex and OpenCode (the pinned npm CLIs on
PATH, see package.json) over config files that already hold other entries and comments, and
asks each agent itself:

- Claude Code: `claude mcp list` shows `wxlink: … ✔ Connected` (and the other server is
  still listed), and as a channel (`--channel --permission-relay`); the hook command it wrote, run by a shell,
  prints a new message once as `hookSpecificOutput.additionalContext`;
- OpenCode: `opencode mcp list` shows wxlink connected, read from an `opencode.jsonc` with
  comments;
- Codex: `codex app-server` (JSON-RPC over stdio): `mcpServerStatus/list` lists wxlink's
  tools, `hooks/list` shows wxlink's UserPromptSubmit hook (untrusted until the user trusts it
  in /hooks; the command it lists, run by a shell, prints a new message once),
  `config/read` sees `default_tools_approval_mode = "approve"`;

then `wxlink setup <client> --uninstall` and asks again: wxlink is gone, the rest is still there
(byte for byte where the agent did not rewrite the file itself).

Run by run.sh; stdlib only. Environment: WXLINK_BIN (the binary under test).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "interop"))
from fakectl import FakeControl, start_sandbox, stop_process  # noqa: E402

WXLINK = os.path.realpath(os.environ["WXLINK_BIN"])
TOOLS = {"recv", "send", "history", "sessions", "contacts"}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
checks = 0


def check(cond: bool, what: str, detail: object = "") -> None:
    global checks
    if not cond:
        raise AssertionError(f"{what}\n{detail}")
    checks += 1
    print(f"  ok  {what}")


def run(argv: list[str], env: dict[str, str], timeout: float = 120, cwd: Path | None = None) -> str:
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    out = ANSI.sub("", p.stdout + p.stderr)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}:\n{out}")
    return out


class AppServer:
    """`codex app-server`: newline-delimited JSON-RPC over stdio."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(["codex", "app-server"], env=env, cwd=cwd, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.next_id = 0
        self.request("initialize", {"clientInfo": {"name": "wxlink-agents-test", "version": "1"}})
        self.notify("initialized")

    def notify(self, method: str) -> None:
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.next_id += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                          "params": params}) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"codex app-server closed its output during {method}")
            msg = json.loads(line)
            if msg.get("id") == self.next_id and "method" not in msg:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]
        raise AssertionError(f"no answer to {method}")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def codex_view(env: dict[str, str], home: Path) -> tuple[dict, list, dict]:
    """wxlink's MCP status (or {}), the UserPromptSubmit hooks, and the effective config."""
    app = AppServer(env, home)
    try:
        servers = app.request("mcpServerStatus/list", {})["data"]
        hooks = app.request("hooks/list", {"cwds": [str(home)]})["data"][0]["hooks"]
        config = app.request("config/read", {})
    finally:
        app.close()
    wxlink = next((s for s in servers if s["name"] == "wxlink"), {})
    prompt_hooks = [h for h in hooks if h["eventName"] == "userPromptSubmit"]
    return wxlink, prompt_hooks, config


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="wxlink-agents-"))
    home = work / "home"
    home.mkdir()
    proc, fake = start_sandbox(WXLINK, work / "sandbox.stderr")
    try:
        fake.post("config", {**fake.startup_config, "qr_auto_confirm": True})
        env = {k: v for k, v in os.environ.items()
               if k not in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME", "WXLINK_HOME")}
        env.update({
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "CODEX_HOME": str(home / ".codex"),
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            # No telemetry, update checks or other traffic from the agents.
            "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
        })
        wx = [WXLINK, "-d", str(work / "data"), "--ilink-base", fake.base_url,
              "--cdn-base", fake.cdn_url]
        print("login (the sandbox confirms by itself)")
        run(wx + ["--json", "login"], env, timeout=60)
        status = json.loads(run(wx + ["--json", "status"], env))
        check(len(status) == 1 and status[0]["status"] == "connected", "one fake account logged in",
              status)

        claude_code(wx, env, home, fake)
        opencode(wx, env, home)
        codex(wx, env, home, fake)
        print(f"agents: {checks} checks passed")
    finally:
        stop_process(proc)
        shutil.rmtree(work, ignore_errors=True)


def claude_code(wx: list[str], env: dict[str, str], home: Path, fake: FakeControl) -> None:
    print(f"Claude Code {run(['claude', '--version'], env).strip()}")
    claude_json = home / ".claude.json"
    claude_json.write_text(json.dumps(
        {"mcpServers": {"other": {"type": "stdio", "command": "/bin/false", "args": []}}},
        indent=2) + "\n")
    out = run(wx + ["setup", "claude-code"], env)
    check("created" in out and "settings.json" in out, "wxlink setup claude-code", out)
    listed = run(["claude", "mcp", "list"], env)
    line = next((l for l in listed.splitlines() if l.startswith("wxlink:")), "")
    check(re.search(r"[✓✔] Connected", line) is not None, "claude mcp list: wxlink ✔ Connected",
          listed)
    check(WXLINK in line and " mcp" in line, "claude runs this wxlink binary with `mcp`", line)
    check(any(l.startswith("other:") for l in listed.splitlines()),
          "claude mcp list: the other server is still there", listed)
    settings = json.loads((home / ".claude" / "settings.json").read_text())
    hook = settings["hooks"]["UserPromptSubmit"][0]["hooks"][0]
    check(hook["command"].endswith("hook --client claude-code") and hook["command"].startswith(WXLINK),
          "the UserPromptSubmit hook runs `wxlink … hook --client claude-code`", hook)
    check((home / ".claude" / "skills" / "wechat" / "SKILL.md").is_file(), "the /wechat skill")
    hook_runs(hook["command"], wx, env, fake, "claude-code hook 你好")

    run(wx + ["setup", "claude-code", "--uninstall"], env)
    listed = run(["claude", "mcp", "list"], env)
    check(not any(l.startswith("wxlink:") for l in listed.splitlines())
          and any(l.startswith("other:") for l in listed.splitlines()),
          "after --uninstall: claude mcp list has other but not wxlink", listed)
    check(not (home / ".claude" / "settings.json").exists()
          and not (home / ".claude" / "skills" / "wechat").exists(),
          "after --uninstall: the settings file and skill setup created are gone")

    # The channel form.
    run(wx + ["setup", "claude-code", "--channel", "--permission-relay"], env)
    listed = run(["claude", "mcp", "list"], env)
    line = next((l for l in listed.splitlines() if l.startswith("wxlink:")), "")
    check(" mcp --channel --permission-relay" in line
          and re.search(r"[✓✔] Connected", line) is not None,
          "claude mcp list: wxlink as a channel (mcp --channel --permission-relay) ✔ Connected",
          listed)
    run(wx + ["setup", "claude-code", "--uninstall"], env)


def hook_runs(command: str, wx: list[str], env: dict[str, str], fake: FakeControl,
              text: str) -> None:
    """The hook command line setup wrote, run by a shell as the agent runs it: a message
    that arrived since the last prompt comes out once, in the hook JSON Claude Code and Codex
    read."""
    prompt = json.dumps({"hook_event_name": "UserPromptSubmit", "prompt": "any news?"})

    def hook() -> str:
        p = subprocess.run(command, shell=True, input=prompt, env=env, capture_output=True,
                           text=True, timeout=30)
        check(p.returncode == 0, "the hook exits 0", p.stderr)
        return p.stdout.strip()

    # The sender (the user who bound the fake bot) passes wxlink's access gate.
    owner = json.loads(run(wx + ["--json", "status"], env))[0]["user_id"]
    run(wx + ["access", "allow", owner], env)
    hook()  # the hook's consumer starts here
    fake.inject(text=text)
    run(wx + ["recv", "--timeout", "10"], env)  # a poll stores it
    out = hook()
    specific = json.loads(out)["hookSpecificOutput"] if out else {}
    check(specific.get("hookEventName") == "UserPromptSubmit"
          and text in specific.get("additionalContext", ""),
          "the hook setup wrote prints the new message as additionalContext", out)
    check(hook() == "", "the next prompt gets nothing again")


def opencode(wx: list[str], env: dict[str, str], home: Path) -> None:
    print(f"OpenCode {run(['opencode', '--version'], env).strip()}")
    cfg = home / ".config" / "opencode" / "opencode.jsonc"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    original = ('{\n  // my servers\n  "$schema": "https://opencode.ai/config.json",\n'
                '  "mcp": {\n    "other": { "type": "local", "command": ["/bin/false"], '
                '"enabled": false }, // off for now\n  },\n}\n')
    cfg.write_text(original)
    run(wx + ["setup", "opencode"], env)
    text = cfg.read_text()
    check("// my servers" in text and "// off for now" in text and '"wxlink"' in text,
          "opencode.jsonc: wxlink added, comments kept", text)
    listed = run(["opencode", "mcp", "list"], env)
    check(re.search(r"✓ wxlink\s+connected", listed) is not None,
          "opencode mcp list: ✓ wxlink connected", listed)
    run(wx + ["setup", "opencode", "--uninstall"], env)
    check(cfg.read_text() == original, "after --uninstall: opencode.jsonc is byte-identical")
    listed = run(["opencode", "mcp", "list"], env)
    check("wxlink" not in listed, "after --uninstall: opencode mcp list has no wxlink", listed)


def codex(wx: list[str], env: dict[str, str], home: Path, fake: FakeControl) -> None:
    version = [l for l in run(["codex", "--version"], env).splitlines() if l.startswith("codex")]
    print(f"Codex {version[-1] if version else '?'}")
    cfg = home / ".codex" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    original = "# my Codex settings\ncheck_for_update_on_startup = false  # quiet\n"
    cfg.write_text(original)
    run(wx + ["setup", "codex", "--approve-tools"], env)
    text = cfg.read_text()
    check(text.startswith(original) and "[mcp_servers.wxlink]" in text,
          "config.toml: wxlink added after the user's settings and comments", text)
    server, hooks, config = codex_view(env, home)
    tools = set(server.get("tools", {}))
    check(TOOLS <= tools, f"codex app-server mcpServerStatus/list: wxlink lists {sorted(TOOLS)}",
          server)
    ours = [h for h in hooks if h.get("command", "").endswith("hook --client codex")]
    check(len(ours) == 1 and ours[0]["source"] == "user" and ours[0]["command"].startswith(WXLINK),
          "codex app-server hooks/list: wxlink's UserPromptSubmit hook", hooks)
    check(ours[0]["trustStatus"] == "untrusted",
          "the hook waits for the user to trust it in /hooks", ours[0])
    hook_runs(ours[0]["command"], wx, env, fake, "codex hook 你好")
    wx_cfg = config["config"]["mcp_servers"]["wxlink"]
    check(wx_cfg.get("default_tools_approval_mode") == "approve",
          "codex config/read: default_tools_approval_mode = approve for wxlink", wx_cfg)
    run(wx + ["setup", "codex", "--uninstall"], env)
    check(cfg.read_text() == original, "after --uninstall: config.toml is byte-identical")
    server, hooks, _ = codex_view(env, home)
    check(not server and not any("wxlink" in h.get("command", "") for h in hooks),
          "after --uninstall: codex sees no wxlink server or hook")


if __name__ == "__main__":
    main()
