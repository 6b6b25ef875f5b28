//! The fixture resources, prompts and completions, served next to wxlink's own:
//!
//! - resources `test://static-text`, `test://static-binary`, `test://watched-resource`
//!   (subscribable with the legacy `resources/subscribe`) and the template
//!   `test://template/{id}/data`;
//! - prompts `test_simple_prompt`, `test_prompt_with_arguments`,
//!   `test_prompt_with_embedded_resource`, `test_prompt_with_image` and
//!   `test_input_required_result_prompt` (asks for context first, SEP-2322);
//! - completions of those prompts' arguments and of the template's `{id}`.
//!
//! Contents are those of the suite's reference "everything server", which the suite checks.

use rmcp::model::{
    CompletionInfo, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    InputRequiredResult, Prompt, PromptArgument, PromptMessage, Reference, Resource,
    ResourceContents, ResourceTemplate, Role,
};
use rmcp::ErrorData;
use serde_json::{json, Value};

use crate::content::{accepted, ask, png_base64, requests};
use crate::fixtures::Fixtures;

/// The text resource.
const STATIC_TEXT: &str = "test://static-text";
/// The binary resource.
const STATIC_BINARY: &str = "test://static-binary";
/// The subscribable resource.
const WATCHED: &str = "test://watched-resource";
/// The resource template.
const TEMPLATE: &str = "test://template/{id}/data";
const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

/// The names of the fixture prompts.
const PROMPTS: [&str; 5] = [
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
    "test_input_required_result_prompt",
];

/// The `{id}` of a `test://template/{id}/data` URI.
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix(TEMPLATE_PREFIX)?
        .strip_suffix(TEMPLATE_SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

impl Fixtures {
    /// The fixture resources.
    pub fn resources(&self) -> Vec<Resource> {
        vec![
            Resource::new(STATIC_TEXT, "Static Text Resource")
                .with_description("A static text resource for testing")
                .with_mime_type("text/plain"),
            Resource::new(STATIC_BINARY, "Static Binary Resource")
                .with_description("A static binary (PNG) resource for testing")
                .with_mime_type("image/png"),
            Resource::new(WATCHED, "Watched Resource")
                .with_description("A resource clients can subscribe to")
                .with_mime_type("text/plain"),
        ]
    }

    /// The fixture resource template.
    pub fn templates(&self) -> Vec<ResourceTemplate> {
        vec![ResourceTemplate::new(TEMPLATE, "Dynamic Resource")
            .with_description("A dynamic resource with parameter substitution")
            .with_mime_type("application/json")]
    }

    /// Whether `uri` is one of the fixture resources.
    pub fn knows(&self, uri: &str) -> bool {
        matches!(uri, STATIC_TEXT | STATIC_BINARY | WATCHED) || template_id(uri).is_some()
    }

    /// The contents of a fixture resource, `None` for other URIs.
    pub fn read(&self, uri: &str) -> Option<ResourceContents> {
        Some(match uri {
            STATIC_TEXT => {
                ResourceContents::text("This is the content of the static text resource.", uri)
                    .with_mime_type("text/plain")
            }
            STATIC_BINARY => ResourceContents::blob(png_base64(), uri).with_mime_type("image/png"),
            WATCHED => ResourceContents::text("Watched resource content.", uri)
                .with_mime_type("text/plain"),
            _ => {
                let id = template_id(uri)?;
                let body =
                    json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
                ResourceContents::text(body.to_string(), uri).with_mime_type("application/json")
            }
        })
    }

    /// Legacy `resources/subscribe` of a fixture resource (`false` for other URIs).
    pub fn subscribe(&self, uri: &str) -> bool {
        if !self.knows(uri) {
            return false;
        }
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.to_string());
        true
    }

    /// Legacy `resources/unsubscribe` of a fixture resource (`false` for other URIs).
    pub fn unsubscribe(&self, uri: &str) -> bool {
        if !self.knows(uri) {
            return false;
        }
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uri);
        true
    }

    /// The fixture prompts.
    pub fn prompts(&self) -> Vec<Prompt> {
        let arg = |name: &str, description: &str| {
            PromptArgument::new(name)
                .with_description(description)
                .with_required(true)
        };
        vec![
            Prompt::new(
                "test_simple_prompt",
                Some("A simple prompt without arguments"),
                None,
            ),
            Prompt::new(
                "test_prompt_with_arguments",
                Some("A prompt with two required arguments"),
                Some(vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ]),
            ),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                Some("A prompt that embeds a resource"),
                Some(vec![arg("resourceUri", "URI of the resource to embed")]),
            ),
            Prompt::new(
                "test_prompt_with_image",
                Some("A prompt with an image"),
                None,
            ),
            Prompt::new(
                "test_input_required_result_prompt",
                Some("A prompt that first asks the user for context (SEP-2322)"),
                None,
            ),
        ]
    }

    /// Whether `name` is one of the fixture prompts.
    pub fn has_prompt(&self, name: &str) -> bool {
        PROMPTS.contains(&name)
    }

    /// `prompts/get` of a fixture prompt.
    pub fn get_prompt(
        &self,
        request: &GetPromptRequestParams,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arg = |name: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )],
            "test_prompt_with_arguments" => {
                let (Some(arg1), Some(arg2)) = (arg("arg1"), arg("arg2")) else {
                    return Err(ErrorData::invalid_params(
                        "arguments arg1 and arg2 are required",
                        None,
                    ));
                };
                vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
                )]
            }
            "test_prompt_with_embedded_resource" => {
                let Some(uri) = arg("resourceUri") else {
                    return Err(ErrorData::invalid_params(
                        "argument resourceUri is required",
                        None,
                    ));
                };
                vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::resource(
                            ResourceContents::text("Embedded resource content for testing.", uri)
                                .with_mime_type("text/plain"),
                        ),
                    ),
                    PromptMessage::new_text(
                        Role::User,
                        "Please process the embedded resource above.",
                    ),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::new(Role::User, ContentBlock::image(png_base64(), "image/png")),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ],
            "test_input_required_result_prompt" => {
                let responses = request.input_responses.clone().unwrap_or_default();
                match accepted(responses.get("user_context"), "context") {
                    Some(context) => vec![PromptMessage::new_text(
                        Role::User,
                        format!("Answer with this context in mind: {context}"),
                    )],
                    None => {
                        return Ok(InputRequiredResult::from_input_requests(requests([(
                            "user_context",
                            ask("What context should the prompt use?", "context")?,
                        )]))
                        .into())
                    }
                }
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown prompt {other:?}"),
                    None,
                ))
            }
        };
        Ok(GetPromptResult::new(messages).into())
    }

    /// Completions of fixture prompt arguments and template variables (`None` when the
    /// reference is not a fixture).
    pub fn complete(
        &self,
        reference: &Reference,
        argument: &str,
        value: &str,
    ) -> Option<CompletionInfo> {
        let candidates: &[&str] = match reference {
            Reference::Prompt(p) if p.name == "test_prompt_with_arguments" => match argument {
                "arg1" => &["paris", "park", "party"],
                "arg2" => &["hello", "world"],
                _ => &[],
            },
            Reference::Prompt(p) if p.name == "test_prompt_with_embedded_resource" => {
                &[STATIC_TEXT, STATIC_BINARY, WATCHED]
            }
            Reference::Prompt(p) if p.name.starts_with("test_") => &[],
            Reference::Resource(r) if r.uri == TEMPLATE => &["1", "2", "3"],
            _ => return None,
        };
        let values = candidates
            .iter()
            .filter(|c| c.starts_with(value))
            .map(|c| (*c).to_string())
            .collect();
        CompletionInfo::with_all_values(values).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_ids() {
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
        assert_eq!(template_id("test://template/1/2/data"), None);
        assert_eq!(template_id("test://static-text"), None);
    }

    #[test]
    fn every_listed_prompt_is_known() {
        let fixtures = Fixtures::new();
        let listed = fixtures.prompts();
        assert_eq!(listed.len(), PROMPTS.len());
        assert!(listed.iter().all(|p| fixtures.has_prompt(&p.name)));
    }

    #[test]
    fn fixture_resources_read_and_subscribe() {
        let fixtures = Fixtures::new();
        for resource in fixtures.resources() {
            assert!(fixtures.read(&resource.uri).is_some(), "{}", resource.uri);
        }
        assert!(fixtures.read("test://template/7/data").is_some());
        assert!(fixtures.read("wxlink://inbox").is_none());
        assert!(fixtures.subscribe(WATCHED));
        assert!(!fixtures.subscribe("wxlink://inbox"));
        assert!(fixtures.unsubscribe(WATCHED));
    }
}
