//! `wxlink setup <client>` as a user runs it, in a temporary HOME per test (HOME,
//! XDG_CONFIG_HOME, CODEX_HOME, CLAUDE_CONFIG_DIR set on the spawned process): the files each
//! agent reads get the right shape, what was there before (other servers, unrelated keys,
//! comments) stays, a second run changes nothing, `--uninstall` gives back the original bytes,
//! `--dry-run` and `--print` write nothing, and a malformed config is refused untouched. The
//! real agents reading these files are tests/agents/.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_wxlink");

struct Home {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, PathBuf)>,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("XDG_CONFIG_HOME", dir.path().join(".config"))];
        Home { dir, env }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&self.read(rel)).unwrap()
    }

    fn run(&self, args: &[&str]) -> Run {
        let empty_path = self.path(".empty-path");
        fs::create_dir_all(&empty_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            // No agent binary is found on PATH: `all` goes by config directories only.
            .env("PATH", &empty_path);
        for var in [
            "XDG_CONFIG_HOME",
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "WXLINK_HOME",
            "WXLINK_ILINK_BASE",
            "WXLINK_CDN_BASE",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, Some(0), "{args:?}\n{}\n{}", r.stdout, r.stderr);
        r.stdout
    }

    /// Every file under HOME with its bytes (the empty PATH directory left out).
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.ends_with(".empty-path") {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.insert(p.clone(), fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), &mut out);
        out
    }

    fn mode(&self, rel: &str) -> u32 {
        fs::metadata(self.path(rel)).unwrap().permissions().mode() & 0o777
    }
}

/// Runs setup twice and uninstall once; checks the second run changed nothing and said so,
/// and that uninstall gave every file in HOME back byte for byte (backups included: none left).
fn install_is_idempotent_and_uninstall_restores(home: &Home, args: &[&str]) {
    let before = home.snapshot();
    home.ok(args);
    let installed = home.snapshot();
    assert_ne!(before, installed, "{args:?} changed nothing");
    let again = home.ok(args);
    assert!(again.contains("already set up; nothing changed"), "{again}");
    assert_eq!(
        home.snapshot(),
        installed,
        "a second {args:?} changed files"
    );
    let mut uninstall = args.to_vec();
    uninstall.push("--uninstall");
    home.ok(&uninstall);
    assert_eq!(
        home.snapshot(),
        before,
        "{uninstall:?} did not restore HOME"
    );
    let nothing = home.ok(&uninstall);
    assert!(
        nothing.contains("nothing of wxlink's to remove"),
        "{nothing}"
    );
}

const CLAUDE_JSON: &str = r#"{
  "numStartups": 7,
  "mcpServers": {
    "other": {
      "type": "stdio",
      "command": "/usr/bin/other",
      "args": [],
      "env": {}
    }
  },
  "projects": {
    "/work": {
      "allowedTools": []
    }
  }
}
"#;

const CLAUDE_SETTINGS: &str = r#"{
  "permissions": {
    "allow": ["Bash(ls:*)"]
  },
  "hooks": {
    "UserPromptSubmit": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "echo mine"
          }
        ]
      }
    ]
  }
}
"#;

#[test]
fn claude_code_gets_its_server_hook_and_skill_merged_into_what_is_there() {
    let home = Home::new();
    home.write(".claude.json", CLAUDE_JSON);
    fs::set_permissions(home.path(".claude.json"), fs::Permissions::from_mode(0o644)).unwrap();
    home.write(".claude/settings.json", CLAUDE_SETTINGS);
    let args = [
        "-d",
        "rel/data",
        "--ilink-base",
        "http://127.0.0.1:9/",
        "setup",
        "claude-code",
    ];
    let out = home.ok(&args);
    assert!(
        out.contains("claude-code:") && out.contains("created"),
        "{out}"
    );

    let data = home.path("rel/data").to_string_lossy().into_owned();
    let claude = home.json(".claude.json");
    assert_eq!(
        claude["mcpServers"]["wxlink"],
        json!({"type": "stdio", "command": BIN,
               "args": ["-d", data, "--ilink-base", "http://127.0.0.1:9/", "mcp"]})
    );
    assert_eq!(claude["mcpServers"]["other"]["command"], "/usr/bin/other");
    assert_eq!(claude["numStartups"], 7);
    assert_eq!(claude["projects"]["/work"]["allowedTools"], json!([]));
    assert_eq!(
        home.mode(".claude.json"),
        0o644,
        "an existing file keeps its mode"
    );
    assert_eq!(home.read(".claude.json.wxlink.bak"), CLAUDE_JSON);
    assert_eq!(home.mode(".claude.json.wxlink.bak"), 0o600);

    let settings = home.json(".claude/settings.json");
    assert_eq!(settings["permissions"]["allow"], json!(["Bash(ls:*)"]));
    let groups = settings["hooks"]["UserPromptSubmit"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{settings}");
    assert_eq!(groups[0]["hooks"][0]["command"], "echo mine");
    assert_eq!(
        groups[1]["hooks"][0],
        json!({"type": "command", "timeout": 5,
               "command": format!("{BIN} -d {data} --ilink-base http://127.0.0.1:9/ hook --client claude-code")})
    );

    let skill = home.read(".claude/skills/wechat/SKILL.md");
    assert!(skill.starts_with("---\nname: wechat\n"), "{skill}");
    for tool in ["recv", "send", "history", "sessions", "contacts"] {
        assert!(skill.contains(&format!("mcp__wxlink__{tool}")), "{tool}");
    }
    assert_eq!(
        home.mode(".claude/skills/wechat/SKILL.md"),
        0o600,
        "new files are 0600"
    );

    // From a clean start again: idempotent, and uninstall restores every byte.
    let home = Home::new();
    home.write(".claude.json", CLAUDE_JSON);
    home.write(".claude/settings.json", CLAUDE_SETTINGS);
    install_is_idempotent_and_uninstall_restores(&home, &["setup", "claude-code"]);
    assert!(!home.path(".claude/skills").join("wechat").exists());
}

#[test]
fn claude_code_follows_claude_config_dir_and_runs_the_channel() {
    let mut home = Home::new();
    home.env.push(("CLAUDE_CONFIG_DIR", home.path("cc")));
    home.ok(&["setup", "claude-code", "--channel"]);
    let server = &home.json("cc/.claude.json")["mcpServers"]["wxlink"];
    assert_eq!(server["args"], json!(["mcp", "--channel"]));
    assert!(home.path("cc/settings.json").is_file());
    assert!(home.path("cc/skills/wechat/SKILL.md").is_file());
    assert!(!home.path(".claude.json").exists() && !home.path(".claude").exists());
    assert_eq!(home.mode("cc/.claude.json"), 0o600);
    // Without --channel the entry is brought back to plain `mcp`.
    home.ok(&["setup", "claude-code"]);
    let server = &home.json("cc/.claude.json")["mcpServers"]["wxlink"];
    assert_eq!(server["args"], json!(["mcp"]));
    // Everything setup created goes away again.
    home.ok(&["setup", "claude-code", "--uninstall"]);
    assert!(
        home.snapshot().is_empty(),
        "{:?}",
        home.snapshot().keys().collect::<Vec<_>>()
    );
}

const CODEX_CONFIG: &str = r#"# My Codex settings
model = "gpt-5"  # the default

[mcp_servers.other]
command = "other-server"
args = ["--fast"]

[profiles.quiet]
approval_policy = "never"
"#;

#[test]
fn codex_server_and_inline_hook_keep_the_toml_comments() {
    let mut home = Home::new();
    home.env.push(("CODEX_HOME", home.path("ch")));
    home.write("ch/config.toml", CODEX_CONFIG);
    home.ok(&["setup", "codex", "--approve-tools"]);
    let text = home.read("ch/config.toml");
    assert!(
        text.starts_with(CODEX_CONFIG.split("\n[profiles").next().unwrap()),
        "{text}"
    );
    assert!(
        text.contains("# the default") && text.contains("[profiles.quiet]"),
        "{text}"
    );
    let doc: toml_edit::DocumentMut = text.parse().unwrap();
    let server = &doc["mcp_servers"]["wxlink"];
    assert_eq!(server["command"].as_str(), Some(BIN));
    let args: Vec<&str> = server["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(args, ["mcp"]);
    assert_eq!(
        server["default_tools_approval_mode"].as_str(),
        Some("approve")
    );
    assert_eq!(
        doc["mcp_servers"]["other"]["command"].as_str(),
        Some("other-server")
    );
    let hook = &doc["hooks"]["UserPromptSubmit"][0]["hooks"][0];
    assert_eq!(hook["type"].as_str(), Some("command"));
    assert_eq!(
        hook["command"].as_str(),
        Some(format!("{BIN} hook --client codex").as_str())
    );
    assert_eq!(hook["timeout"].as_integer(), Some(5));
    assert!(
        !home.path("ch/hooks.json").exists(),
        "no hooks.json when config.toml can hold the hook"
    );
    assert!(!home.path(".codex").exists(), "CODEX_HOME is honoured");

    home.ok(&["setup", "codex", "--uninstall"]);
    assert_eq!(home.read("ch/config.toml"), CODEX_CONFIG);

    let mut home = Home::new();
    home.env.push(("CODEX_HOME", home.path("ch")));
    home.write("ch/config.toml", CODEX_CONFIG);
    install_is_idempotent_and_uninstall_restores(&home, &["setup", "codex"]);
}

#[test]
fn codex_hook_goes_to_hooks_json_when_the_user_keeps_hooks_there() {
    let home = Home::new();
    let hooks = "{\n  \"hooks\": {\n    \"Stop\": [\n      {\"hooks\": [{\"type\": \"command\", \"command\": \"notify\"}]}\n    ]\n  }\n}\n";
    home.write(".codex/hooks.json", hooks);
    home.ok(&["setup", "codex"]);
    let json = home.json(".codex/hooks.json");
    assert_eq!(json["hooks"]["Stop"][0]["hooks"][0]["command"], "notify");
    assert_eq!(
        json["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"],
        format!("{BIN} hook --client codex")
    );
    let toml = home.read(".codex/config.toml");
    assert!(
        toml.contains("[mcp_servers.wxlink]") && !toml.contains("hooks"),
        "{toml}"
    );
    assert!(home.path(".codex/config.toml").is_file());
    assert_eq!(home.mode(".codex/config.toml"), 0o600);
    home.ok(&["setup", "codex", "--uninstall"]);
    assert_eq!(home.read(".codex/hooks.json"), hooks);
    assert!(
        !home.path(".codex/config.toml").exists(),
        "the config.toml setup created held nothing else"
    );
}

#[test]
fn opencode_jsonc_keeps_its_comments_and_a_new_config_is_json() {
    let home = Home::new();
    let jsonc = "{\n  // my setup\n  \"theme\": \"dark\", /* keep */\n  \"mcp\": {\n    \"other\": {\"type\": \"remote\", \"url\": \"https://x\"},\n  },\n}\n";
    home.write(".config/opencode/opencode.jsonc", jsonc);
    home.ok(&["setup", "opencode"]);
    let text = home.read(".config/opencode/opencode.jsonc");
    assert!(
        text.contains("// my setup") && text.contains("/* keep */"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"command\": [\"{BIN}\", \"mcp\"]")),
        "{text}"
    );
    assert!(text.contains("\"type\": \"local\"") && text.contains("\"enabled\": true"));
    assert!(!home.path(".config/opencode/opencode.json").exists());
    home.ok(&["setup", "opencode", "--uninstall"]);
    assert_eq!(home.read(".config/opencode/opencode.jsonc"), jsonc);

    let home = Home::new();
    home.ok(&["setup", "opencode"]);
    let entry = &home.json(".config/opencode/opencode.json")["mcp"]["wxlink"];
    assert_eq!(
        *entry,
        json!({"type": "local", "command": [BIN, "mcp"], "enabled": true})
    );
    install_is_idempotent_and_uninstall_restores(&Home::new(), &["setup", "opencode"]);
}

#[test]
fn cursor_claude_desktop_and_vscode_get_their_server_entry() {
    let mut home = Home::new();
    home.env[0].1 = home.path("xdg");
    home.write(
        "xdg/Code/User/mcp.json",
        "{\n\t// VS Code\n\t\"servers\": {},\n\t\"inputs\": []\n}\n",
    );
    for client in ["cursor", "claude-desktop", "vscode"] {
        home.ok(&["setup", client]);
    }
    assert_eq!(
        home.json(".cursor/mcp.json"),
        json!({"mcpServers": {"wxlink": {"command": BIN, "args": ["mcp"]}}})
    );
    assert_eq!(
        home.json("xdg/Claude/claude_desktop_config.json"),
        json!({"mcpServers": {"wxlink": {"command": BIN, "args": ["mcp"]}}})
    );
    let vscode = home.read("xdg/Code/User/mcp.json");
    assert!(
        vscode.contains("// VS Code") && vscode.contains("\t\"inputs\": []"),
        "{vscode}"
    );
    assert!(
        vscode.contains(&format!(
            "\"wxlink\": {{\n\t\t\t\"type\": \"stdio\",\n\t\t\t\"command\": \"{BIN}\""
        )),
        "indentation follows the file's: {vscode}"
    );
    for client in ["cursor", "claude-desktop", "vscode"] {
        home.ok(&["setup", client, "--uninstall"]);
    }
    assert_eq!(
        home.read("xdg/Code/User/mcp.json"),
        "{\n\t// VS Code\n\t\"servers\": {},\n\t\"inputs\": []\n}\n"
    );
    assert!(!home.path(".cursor/mcp.json").exists());
    assert!(!home.path("xdg/Claude/claude_desktop_config.json").exists());
    for client in ["cursor", "claude-desktop", "vscode"] {
        install_is_idempotent_and_uninstall_restores(&Home::new(), &["setup", client]);
    }
}

#[test]
fn uninstall_after_the_user_edited_the_file_keeps_their_edits() {
    let home = Home::new();
    home.write(
        ".config/Code/User/mcp.json",
        "{\n  // mine\n  \"servers\": {}\n}\n",
    );
    home.ok(&["setup", "vscode"]);
    // The user adds a server of their own after setup.
    let text = home.read(".config/Code/User/mcp.json").replace(
        "\"servers\": {",
        "\"servers\": {\n    \"theirs\": {\"type\": \"stdio\", \"command\": \"t\"}, // added later",
    );
    home.write(".config/Code/User/mcp.json", &text);
    home.ok(&["setup", "vscode", "--uninstall"]);
    let after = home.read(".config/Code/User/mcp.json");
    assert!(
        after.contains("// mine") && after.contains("// added later"),
        "{after}"
    );
    assert!(
        after.contains("\"theirs\"") && !after.contains("wxlink"),
        "{after}"
    );
    assert!(
        home.path(".config/Code/User/mcp.json.wxlink.bak").exists(),
        "the backup stays when the file is not restored from it"
    );
}

#[test]
fn dry_run_and_print_write_nothing() {
    let home = Home::new();
    home.write(".cursor/mcp.json", "{\"mcpServers\": {}}\n");
    home.write(".claude.json", CLAUDE_JSON);
    let before = home.snapshot();
    for client in [
        "claude-code",
        "codex",
        "opencode",
        "cursor",
        "claude-desktop",
        "vscode",
    ] {
        let out = home.ok(&["setup", client, "--dry-run"]);
        assert!(
            out.contains("would change") && out.contains("+++ ") && out.contains("wxlink"),
            "{out}"
        );
        assert!(out.contains("nothing was written"), "{out}");
        let out = home.ok(&["setup", client, "--print"]);
        assert!(out.contains(&format!("# {client}: add to ")), "{out}");
        assert!(out.contains(BIN), "{out}");
        assert_eq!(home.snapshot(), before, "{client}: files changed");
    }
    let dry = home.ok(&["setup", "cursor", "--dry-run"]);
    assert!(
        dry.contains("-{\"mcpServers\": {}}") && dry.contains("+    \"wxlink\": {"),
        "{dry}"
    );
    let printed: Value =
        serde_json::from_str(&home.ok(&["--json", "setup", "codex", "--print"])).unwrap();
    let snippet = printed["clients"][0]["files"][0]["snippet"]
        .as_str()
        .unwrap();
    assert!(
        snippet.starts_with("[mcp_servers.wxlink]\n")
            && snippet.contains("[[hooks.UserPromptSubmit]]"),
        "{snippet}"
    );
    assert_eq!(home.snapshot(), before);
    let planned: Value =
        serde_json::from_str(&home.ok(&["--json", "setup", "cursor", "--dry-run"])).unwrap();
    assert_eq!(planned["dry_run"], true);
    assert_eq!(planned["clients"][0]["files"][0]["change"], "updated");
    assert_eq!(home.snapshot(), before);
}

#[test]
fn malformed_configs_are_refused_and_left_untouched() {
    let cases: [(&str, &str, &str, &str); 5] = [
        (
            "claude-code",
            ".claude.json",
            "{\"mcpServers\": {},}\n",
            "not valid JSON",
        ),
        (
            "cursor",
            ".cursor/mcp.json",
            "{\n  // JSONC in a JSON file\n}\n",
            "not valid JSON",
        ),
        (
            "codex",
            ".codex/config.toml",
            "[mcp_servers\ncommand = 1\n",
            "not valid TOML",
        ),
        (
            "vscode",
            ".config/Code/User/mcp.json",
            "[1, 2]\n",
            "not an object",
        ),
        (
            "opencode",
            ".config/opencode/opencode.json",
            "{\"mcp\": [\"x\"]}\n",
            "`mcp` is not an object",
        ),
    ];
    for (client, rel, text, why) in cases {
        let home = Home::new();
        home.write(rel, text);
        let before = home.snapshot();
        for extra in [None, Some("--uninstall")] {
            let mut args = vec!["setup", client];
            args.extend(extra);
            let r = home.run(&args);
            assert_eq!(r.code, Some(2), "{client} {extra:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(rel) && r.stderr.contains(why),
                "{client}: {}",
                r.stderr
            );
            assert!(r.stderr.contains("nothing was changed"), "{}", r.stderr);
            assert_eq!(home.snapshot(), before, "{client}: something was written");
        }
        let r = home.run(&["--json", "setup", client]);
        let err: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(err["error"]["kind"], "invalid");
    }
}

#[test]
fn all_sets_up_the_agents_found_and_uninstalls_everywhere() {
    let home = Home::new();
    fs::create_dir_all(home.path(".cursor")).unwrap();
    fs::create_dir_all(home.path(".codex")).unwrap();
    let out = home.ok(&["setup", "all"]);
    assert!(
        out.contains("cursor:") && out.contains("codex:") && !out.contains("claude-code"),
        "{out}"
    );
    assert!(home.path(".cursor/mcp.json").is_file() && home.path(".codex/config.toml").is_file());
    assert!(!home.path(".claude.json").exists() && !home.path(".config/opencode").exists());
    let out = home.ok(&["--json", "setup", "all", "--uninstall"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["clients"].as_array().unwrap().len(), 6, "{report}");
    assert!(!home.path(".cursor/mcp.json").exists() && !home.path(".codex/config.toml").exists());

    let empty = Home::new();
    let r = empty.run(&["setup", "all"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("no supported agent found"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_symlinked_config_is_edited_where_it_points() {
    let home = Home::new();
    home.write("dotfiles/cursor-mcp.json", "{}\n");
    fs::create_dir_all(home.path(".cursor")).unwrap();
    std::os::unix::fs::symlink(
        home.path("dotfiles/cursor-mcp.json"),
        home.path(".cursor/mcp.json"),
    )
    .unwrap();
    home.ok(&["setup", "cursor"]);
    let link = fs::symlink_metadata(home.path(".cursor/mcp.json")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
    assert!(home.read("dotfiles/cursor-mcp.json").contains("\"wxlink\""));
    home.ok(&["setup", "cursor", "--uninstall"]);
    assert_eq!(home.read("dotfiles/cursor-mcp.json"), "{}\n");
}
