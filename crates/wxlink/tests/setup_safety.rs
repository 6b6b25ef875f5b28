//! `wxlink setup` keeping users' files safe, in a temporary HOME: `--dry-run` and `--print`
//! write nothing, a malformed config is refused untouched, edits the user made after setup
//! survive `--uninstall`, a symlinked config stays a symlink, `all` finds installed agents,
//! and WXLINK_HOME and the upstream variables reach the entries as options.

mod setup_home;

use std::fs;
use std::path::PathBuf;

use serde_json::{json, Value};
use setup_home::{Home, BIN};

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
    home.write(".claude.json", "{\n  \"numStartups\": 1\n}\n");
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
fn wxlink_home_and_upstream_variables_are_passed_on_as_options() {
    let mut home = Home::new();
    home.env.push(("WXLINK_HOME", PathBuf::from("wx")));
    home.env
        .push(("WXLINK_CDN_BASE", PathBuf::from("http://127.0.0.1:9/c2c/")));
    home.ok(&["--max-upload-mb", "200", "setup", "cursor"]);
    let data = home.path("wx").to_string_lossy().into_owned();
    assert_eq!(
        home.json(".cursor/mcp.json")["mcpServers"]["wxlink"]["args"],
        json!([
            "-d",
            data,
            "--cdn-base",
            "http://127.0.0.1:9/c2c/",
            "--max-upload-mb",
            "200",
            "mcp"
        ])
    );
    let r = home.run(&["setup", "cursor", "--print", "--uninstall"]);
    assert_eq!(r.code, Some(2), "--print cannot go with --uninstall");
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
