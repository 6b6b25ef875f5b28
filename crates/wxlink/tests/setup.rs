//! `wxlink setup <client>` as a user runs it, in a temporary HOME per test (HOME,
//! XDG_CONFIG_HOME, CODEX_HOME, CLAUDE_CONFIG_DIR set on the spawned process): the files each
//! agent reads get the right shape, what was there before (other servers, unrelated keys,
//! comments) stays, a second run changes nothing, `--uninstall` gives back the original bytes.
//! setup_safety.rs has the rest (dry runs, malformed files, `all`); the real agents reading these
//! files are tests/agents/.

mod setup_home;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use serde_json::json;
use setup_home::{install_is_idempotent_and_uninstall_restores, Home, BIN};

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
    let r = home.run(&["setup", "claude-code", "--permission-relay"]);
    assert_eq!(r.code, Some(2), "--permission-relay needs --channel");
    home.ok(&["setup", "claude-code", "--channel", "--permission-relay"]);
    let server = &home.json("cc/.claude.json")["mcpServers"]["wxlink"];
    assert_eq!(
        server["args"],
        json!(["mcp", "--channel", "--permission-relay"])
    );
    home.ok(&["setup", "claude-code", "--channel"]);
    let server = &home.json("cc/.claude.json")["mcpServers"]["wxlink"];
    assert_eq!(server["args"], json!(["mcp", "--channel"]));
    // A channel pushes messages: no prompt hook repeating them.
    let settings = home.path("cc/settings.json");
    assert!(
        !settings.exists() || !home.read("cc/settings.json").contains("hook --client"),
        "{}",
        home.read("cc/settings.json")
    );
    assert!(home.path("cc/skills/wechat/SKILL.md").is_file());
    assert!(home.path("cc/skills/wechat/SKILL.md").is_file());
    assert!(!home.path(".claude.json").exists() && !home.path(".claude").exists());
    assert_eq!(home.mode("cc/.claude.json"), 0o600);
    // Without --channel the entry is brought back to plain `mcp`.
    home.ok(&["setup", "claude-code"]);
    let server = &home.json("cc/.claude.json")["mcpServers"]["wxlink"];
    assert_eq!(server["args"], json!(["mcp"]));
    assert!(home
        .read("cc/settings.json")
        .contains("hook --client claude-code"));
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
