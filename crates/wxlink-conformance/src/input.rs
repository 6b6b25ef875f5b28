//! The multi round-trip fixture tools of 2026-07-28 (SEP-2322), `input_router` over
//! [`ConformanceMcp`]: each answers an `InputRequiredResult` until the client retries with the
//! answers, and those that keep state between rounds seal it in `requestState` with the
//! per-process HMAC key of [`crate::fixtures::Fixtures`] (a tampered state is refused).
//!
//! `test_input_required_result_elicitation`, `…_sampling`, `…_list_roots`,
//! `…_request_state`, `…_multiple_inputs`, `…_multi_round`, `…_tampered_state` and
//! `…_capabilities` (asks only for what the client declared it can answer).

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::model::{CallToolResponse, InputRequests, InputRequiredResult};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, ErrorData, RoleServer};

use crate::content::{
    accepted, ask, ask_bool, ask_name, requests, root_uris, roots, sample, sampled, text,
};
use crate::handler::ConformanceMcp;

#[tool_router(router = input_router, vis = "pub(crate)")]
impl ConformanceMcp {
    #[tool(
        name = "test_input_required_result_elicitation",
        description = "Asks for a name with an InputRequiredResult (SEP-2322)"
    )]
    async fn test_input_required_result_elicitation(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = responses.unwrap_or_default();
        Ok(match accepted(responses.get("user_name"), "name") {
            Some(name) => text(format!("Hello, {name}!")).into(),
            None => InputRequiredResult::from_input_requests(requests([(
                "user_name",
                ask_name("What is your name?")?,
            )]))
            .into(),
        })
    }

    #[tool(
        name = "test_input_required_result_sampling",
        description = "Asks the client's LLM with an InputRequiredResult (SEP-2322)"
    )]
    async fn test_input_required_result_sampling(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = responses.unwrap_or_default();
        Ok(match sampled(responses.get("capital_question")) {
            Some(answer) => text(format!("LLM response: {answer}")).into(),
            None => InputRequiredResult::from_input_requests(requests([(
                "capital_question",
                sample("What is the capital of France?", 100)?,
            )]))
            .into(),
        })
    }

    #[tool(
        name = "test_input_required_result_list_roots",
        description = "Asks for the client's roots with an InputRequiredResult (SEP-2322)"
    )]
    async fn test_input_required_result_list_roots(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = responses.unwrap_or_default();
        Ok(match root_uris(responses.get("client_roots")) {
            Some(uris) => text(format!("Client roots: {}", uris.join(", "))).into(),
            None => {
                InputRequiredResult::from_input_requests(requests([("client_roots", roots()?)]))
                    .into()
            }
        })
    }

    #[tool(
        name = "test_input_required_result_request_state",
        description = "Round-trips a sealed requestState (SEP-2322)"
    )]
    async fn test_input_required_result_request_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const STEP: &str = "request-state:confirm";
        let responses = responses.unwrap_or_default();
        if responses.contains_key("confirm") {
            self.fixtures.open_state(state.as_deref(), STEP)?;
            return Ok(text("state-ok: requestState verified").into());
        }
        let confirm = ask_bool("Please confirm", "ok")?;
        Ok(InputRequiredResult::new(
            Some(requests([("confirm", confirm)])),
            Some(self.fixtures.seal(STEP)),
        )
        .into())
    }

    #[tool(
        name = "test_input_required_result_multiple_inputs",
        description = "Asks for elicitation, sampling and roots at once (SEP-2322)"
    )]
    async fn test_input_required_result_multiple_inputs(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const STEP: &str = "multiple-inputs";
        let responses = responses.unwrap_or_default();
        let name = accepted(responses.get("user_name"), "name");
        let greeting = sampled(responses.get("greeting"));
        let client_roots = root_uris(responses.get("client_roots"));
        if let (Some(name), Some(greeting), Some(client_roots)) = (&name, &greeting, &client_roots)
        {
            self.fixtures.open_state(state.as_deref(), STEP)?;
            return Ok(text(format!(
                "name={name}; greeting={greeting}; roots={}",
                client_roots.join(", ")
            ))
            .into());
        }
        let mut missing = InputRequests::new();
        if name.is_none() {
            missing.insert("user_name".into(), ask_name("What is your name?")?);
        }
        if greeting.is_none() {
            missing.insert("greeting".into(), sample("Generate a greeting", 50)?);
        }
        if client_roots.is_none() {
            missing.insert("client_roots".into(), roots()?);
        }
        Ok(InputRequiredResult::new(Some(missing), Some(self.fixtures.seal(STEP))).into())
    }

    #[tool(
        name = "test_input_required_result_multi_round",
        description = "Two rounds of questions with an evolving requestState (SEP-2322)"
    )]
    async fn test_input_required_result_multi_round(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const ROUND1: &str = "multi-round:1";
        const ROUND2: &str = "multi-round:2";
        let responses = responses.unwrap_or_default();
        if let Some(color) = accepted(responses.get("step2"), "color") {
            self.fixtures.open_state(state.as_deref(), ROUND2)?;
            return Ok(text(format!("Favorite color: {color}")).into());
        }
        if accepted(responses.get("step1"), "name").is_some() {
            self.fixtures.open_state(state.as_deref(), ROUND1)?;
            return Ok(InputRequiredResult::new(
                Some(requests([(
                    "step2",
                    ask("Step 2: What is your favorite color?", "color")?,
                )])),
                Some(self.fixtures.seal(ROUND2)),
            )
            .into());
        }
        Ok(InputRequiredResult::new(
            Some(requests([(
                "step1",
                ask_name("Step 1: What is your name?")?,
            )])),
            Some(self.fixtures.seal(ROUND1)),
        )
        .into())
    }

    #[tool(
        name = "test_input_required_result_tampered_state",
        description = "Rejects a requestState that fails its HMAC check (SEP-2322)"
    )]
    async fn test_input_required_result_tampered_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const STEP: &str = "tampered-state:confirm";
        if responses.is_some_and(|r| !r.is_empty()) {
            self.fixtures.open_state(state.as_deref(), STEP)?;
            return Ok(text("state-ok").into());
        }
        let confirm = ask_bool("Please confirm", "ok")?;
        Ok(InputRequiredResult::new(
            Some(requests([("confirm", confirm)])),
            Some(self.fixtures.seal(STEP)),
        )
        .into())
    }

    #[tool(
        name = "test_input_required_result_capabilities",
        description = "Only asks for what the client declared it can answer (SEP-2322)"
    )]
    async fn test_input_required_result_capabilities(
        &self,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        if responses.is_some_and(|r| !r.is_empty()) {
            return Ok(text("Thanks for the input").into());
        }
        let caps = ctx.client_capabilities().unwrap_or_default();
        let mut wanted = InputRequests::new();
        if caps.elicitation.is_some() {
            wanted.insert("user_name".into(), ask_name("What is your name?")?);
        }
        if caps.sampling.is_some() {
            wanted.insert(
                "capital_question".into(),
                sample("What is the capital of France?", 100)?,
            );
        }
        if caps.roots.is_some() {
            wanted.insert("client_roots".into(), roots()?);
        }
        if wanted.is_empty() {
            return Ok(text("The client declared no capability to ask with").into());
        }
        Ok(InputRequiredResult::from_input_requests(wanted).into())
    }
}
