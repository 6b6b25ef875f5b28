//! The tools, one file per group, each a `#[tool_router]` over [`WxlinkMcp`] whose methods only
//! turn arguments into a service call and its answer into a result:
//!
//! - [`messages`]: `recv`, `send`, `download`, `history` (WeiLink's);
//! - [`sessions`]: `sessions`, `login`, `logout`, `rename_session`, `set_default` (WeiLink's);
//! - [`contacts`]: `typing`, `contacts` (wxlink's own);
//! - [`wechaty`]: Wechaty-MCP-SSE's `findFriend`, `findRoomByTopic`, `sendMessageTo…` and
//!   `getRoomMembers`.
//!
//! [`router`] builds them all once per process, with portable schemas ([`super::schema`]).
//! Which of them a connection *lists* is its [`ToolSurface`]: by default WeiLink's nine plus
//! `typing` and `contacts`, and the Wechaty tools once a session with an address book (Wechaty)
//! exists. Every tool can be called whether listed or not, so a prompt written for either
//! predecessor keeps working.

pub mod contacts;
pub mod messages;
pub mod sessions;
pub mod wechaty;

use std::str::FromStr;
use std::sync::OnceLock;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, Tool};
use rmcp::ErrorData;
use schemars::JsonSchema;
use serde::Serialize;

use super::params;
use super::schema;
use super::server::WxlinkMcp;
use crate::error::AppError;

/// WeiLink's nine tools and wxlink's `typing` and `contacts`: always listed.
pub const CORE: &[&str] = &[
    "recv",
    "send",
    "download",
    "history",
    "sessions",
    "login",
    "logout",
    "rename_session",
    "set_default",
    "typing",
    "contacts",
];

/// Wechaty-MCP-SSE's tools (one name each) and `getRoomMembers`.
pub const WECHATY: &[&str] = &[
    "findFriend",
    "findRoomByTopic",
    "sendMessageToFriend",
    "sendMessageToRoom",
    "sendMessageToFriendByWxId",
    "sendMessageToRoomByWxId",
    "getRoomMembers",
];

/// Wechaty-MCP-SSE's second names of two of them (`sendMessageToFriend`,
/// `sendMessageToRoom`): listed only where its compatibility is asked for.
pub const WECHATY_ALIASES: &[&str] = &["sendMessageToFriendByNickname", "sendMessageToRoomByTopic"];

/// Which tools a server lists (`--tools`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolMode {
    /// WeiLink's tools plus `typing` and `contacts`; the Wechaty tools too once a Wechaty
    /// session exists (announced with `tools/list_changed`).
    #[default]
    Auto,
    /// Every tool, the Wechaty aliases included.
    All,
    /// WeiLink's tools plus `typing` and `contacts`, never the Wechaty ones.
    Weilink,
    /// Wechaty-MCP-SSE's tools (aliases included), with `sessions` and `login`.
    Wechaty,
}

impl ToolMode {
    /// The flag's values.
    pub const VALUES: [&'static str; 4] = ["auto", "all", "weilink", "wechaty"];
}

impl FromStr for ToolMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ToolMode::Auto),
            "all" => Ok(ToolMode::All),
            "weilink" => Ok(ToolMode::Weilink),
            "wechaty" => Ok(ToolMode::Wechaty),
            other => Err(format!(
                "unknown tool set {other:?}: use auto, all, weilink or wechaty"
            )),
        }
    }
}

/// The tools one connection lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolSurface {
    mode: ToolMode,
}

impl ToolSurface {
    /// The surface of `mode`.
    pub fn new(mode: ToolMode) -> Self {
        ToolSurface { mode }
    }

    /// Whether the list can change with the sessions (so `tools/list_changed` may be sent).
    pub fn is_dynamic(&self) -> bool {
        self.mode == ToolMode::Auto
    }

    /// Whether `name` is listed, given whether a session with an address book exists.
    pub fn lists(&self, name: &str, address_book: bool) -> bool {
        let core = CORE.contains(&name);
        let wechaty = WECHATY.contains(&name);
        let alias = WECHATY_ALIASES.contains(&name);
        match self.mode {
            ToolMode::All => true,
            ToolMode::Weilink => core,
            ToolMode::Wechaty => wechaty || alias || matches!(name, "sessions" | "login"),
            ToolMode::Auto => core || (wechaty && address_book),
        }
    }
}

/// Every tool, built once per process (every connection shares it), schemas made portable.
pub fn router() -> &'static ToolRouter<WxlinkMcp> {
    static ROUTER: OnceLock<ToolRouter<WxlinkMcp>> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let mut router = WxlinkMcp::messages_router()
            + WxlinkMcp::sessions_router()
            + WxlinkMcp::contacts_router()
            + WxlinkMcp::wechaty_router();
        for route in router.map.values_mut() {
            route.attr = portable(route.attr.clone());
        }
        router
    })
}

/// A tool with portable schemas and no duplicate title in its annotations.
fn portable(mut tool: Tool) -> Tool {
    let mut input = (*tool.input_schema).clone();
    schema::standardize(&mut input);
    tool.input_schema = std::sync::Arc::new(input);
    if let Some(out) = &tool.output_schema {
        let mut out = (**out).clone();
        schema::standardize(&mut out);
        tool.output_schema = Some(std::sync::Arc::new(out));
    }
    if let Some(a) = tool.annotations.as_mut() {
        a.title = None;
    }
    tool
}

/// The message an agent gets for a failure.
pub fn fail(e: AppError) -> String {
    params::error_message(&e)
}

/// A structured result (the JSON also as text), marked as an error when `is_error`.
///
/// `value` is serialized once, straight from its type: the text block is that JSON, and the
/// structured content a [stand-in](super::rendered) holding the same text, which the transport
/// writes as the object. (rmcp's `CallToolResult::structured` builds a JSON tree and writes
/// the text from it through `Display`; for a page of history the tree alone was more than a
/// fifth of the server's CPU time per call.)
pub fn structured<T: Serialize>(value: &T, is_error: bool) -> Result<CallToolResult, ErrorData> {
    let text = serde_json::to_string(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot serialize a result: {e}"), None))?;
    let stand_in = super::rendered::stand_in(text.clone());
    let mut result = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    result.structured_content = Some(stand_in);
    Ok(result)
}

/// A tool's structured answer. It stands in for rmcp's `Json<T>` and has its name, which is
/// how `#[tool]` finds the output schema (`T`'s) in a return type; it writes the answer with
/// [`structured`].
pub struct Json<T>(pub T);

impl<T: JsonSchema> JsonSchema for Json<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        structured(&self.0, false).map(Into::into)
    }
}

/// A tool error whose text says what to do next.
pub fn tool_error(e: AppError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(fail(e))])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text block is the answer's JSON, written from the answer (its field order), and the
    /// structured content the same JSON; `Json<T>` has `T`'s schema.
    #[test]
    fn a_structured_answer_is_the_same_json_twice() {
        #[derive(Serialize, JsonSchema)]
        struct Answer {
            zeta: u32,
            alpha: Vec<String>,
        }
        let answer = Answer {
            zeta: 1,
            alpha: vec!["say \"hi\"".into()],
        };
        for failed in [false, true] {
            let result = structured(&answer, failed).unwrap();
            assert_eq!(result.is_error, Some(failed));
            let text = result.content[0].as_text().unwrap().text.clone();
            assert_eq!(text, r#"{"zeta":1,"alpha":["say \"hi\""]}"#);
            let mut response = CallToolResponse::from(result);
            super::super::rendered::expand(&mut response).unwrap();
            let CallToolResponse::Complete(result) = response else {
                panic!("not complete")
            };
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(result.structured_content, Some(parsed));
        }
        assert_eq!(
            schemars::schema_for!(Json<Answer>),
            schemars::schema_for!(Answer)
        );
    }

    #[test]
    fn surfaces() {
        let auto = ToolSurface::new(ToolMode::Auto);
        assert!(auto.lists("recv", false) && auto.lists("contacts", false));
        assert!(!auto.lists("findFriend", false));
        assert!(auto.lists("findFriend", true));
        assert!(!auto.lists("sendMessageToFriendByNickname", true));
        let all = ToolSurface::new(ToolMode::All);
        assert!(all.lists("sendMessageToRoomByTopic", false));
        let weilink = ToolSurface::new(ToolMode::Weilink);
        assert!(!weilink.lists("findFriend", true));
        let wechaty = ToolSurface::new(ToolMode::Wechaty);
        assert!(wechaty.lists("sendMessageToFriendByNickname", false));
        assert!(wechaty.lists("login", false) && !wechaty.lists("history", false));
        assert_eq!("WeiLink".parse::<ToolMode>(), Ok(ToolMode::Weilink));
        assert!("some".parse::<ToolMode>().is_err());
    }

    #[test]
    fn every_tool_is_in_one_group_and_every_schema_is_portable() {
        let router = router();
        let tools = router.list_all();
        let mut grouped: Vec<&str> = CORE
            .iter()
            .chain(WECHATY)
            .chain(WECHATY_ALIASES)
            .copied()
            .collect();
        grouped.sort_unstable();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(names, grouped);
        for t in &tools {
            let input = serde_json::Value::Object((*t.input_schema).clone());
            assert!(
                schema::problems(&input).is_empty(),
                "{}: {:?}",
                t.name,
                schema::problems(&input)
            );
            if let Some(out) = &t.output_schema {
                let out = serde_json::Value::Object((**out).clone());
                assert!(
                    schema::problems(&out).is_empty(),
                    "{}: {:?}",
                    t.name,
                    schema::problems(&out)
                );
            }
            let d = t.description.as_deref().unwrap_or_default();
            assert!(
                !d.contains('\n'),
                "{}: a line break in the description",
                t.name
            );
        }
    }
}
