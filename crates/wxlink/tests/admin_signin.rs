//! The admin panel's sign-in over a real socket: the token entered once becomes an HttpOnly,
//! SameSite=Strict cookie that the REST API accepts; changes made with the cookie need the CSRF
//! header; a wrong token is refused; signing out ends it; without a server token nothing needs
//! signing in.

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{json, Value};

mod common;
use common::rest::*;
use common::*;

/// The `name=value` part of a `Set-Cookie`.
fn cookie_pair(r: &reqwest::Response) -> String {
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn cookie_sign_in_with_csrf_for_changes_then_sign_out() {
    let env = env().await;
    login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    let web = &api.anonymous;

    let (status, before) =
        status_json(web.get(api.url("/admin/session")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(before["signed_in"], false);
    assert_eq!(before["token_required"], true);
    assert!(before["csrf"].is_null());

    // A wrong token: 401, no cookie.
    let r = web
        .post(api.url("/admin/session"))
        .json(&json!({"token": "not-the-token-at-all"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert_problem(&status_json(r).await, 401, "unauthorized");

    // The right one: an HttpOnly, SameSite=Strict cookie.
    let r = web
        .post(api.url("/admin/session"))
        .json(&json!({"token": TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains(TOKEN), "the cookie is not the token");
    let cookie = cookie_pair(&r);

    let (_, me) = status_json(
        web.get(api.url("/admin/session"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["signed_in"], true);
    let csrf = me["csrf"].as_str().unwrap().to_string();

    // Reads work with the cookie alone.
    let (status, sessions) = status_json(
        web.get(api.url("/api/v1/sessions"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{sessions}");
    // A change without the CSRF header (what a forged cross-site form would send) is refused.
    let r = web
        .patch(api.url("/api/v1/sessions/default"))
        .header(COOKIE, &cookie)
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 403, "csrf");
    let r = web
        .patch(api.url("/api/v1/sessions/default"))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", "0123456789abcdef0123456789abcdef")
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 403, "csrf");
    let r = web
        .patch(api.url("/api/v1/sessions/default"))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    let (status, renamed) = status_json(r).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "renamed");

    // The cookie is for the REST API and the panel only, not for MCP.
    let r = web
        .post(api.url("/mcp"))
        .header(COOKIE, &cookie)
        .header("Accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A forged or tampered cookie is refused.
    let forged = cookie.replace("v1.", "v1.1");
    let r = web
        .get(api.url("/api/v1/sessions"))
        .header(COOKIE, &forged)
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 401, "unauthorized");

    // Signing out needs the CSRF header too, then clears the cookie.
    let r = web
        .delete(api.url("/admin/session"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 403, "csrf");
    let r = web
        .delete(api.url("/admin/session"))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    api.stop().await;
}

#[tokio::test]
async fn a_cookie_from_another_token_is_refused() {
    let env = env().await;
    let a = serve_with(&env.app, Some("first-token-first-token")).await;
    let r = a
        .anonymous
        .post(a.url("/admin/session"))
        .json(&json!({"token": "first-token-first-token"}))
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(&r);
    a.stop().await;
    let b = serve_with(&env.app, Some("second-token-second-token")).await;
    let (status, v): (u16, Value) = status_json(
        b.anonymous
            .get(b.url("/api/v1/status"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{v}");
    b.stop().await;
}

#[tokio::test]
async fn without_a_server_token_the_panel_is_signed_in() {
    let env = env().await;
    let api = serve_with(&env.app, None).await;
    let (_, me) = status_json(
        api.anonymous
            .get(api.url("/admin/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(me["signed_in"], true);
    assert_eq!(me["token_required"], false);
    assert!(me["csrf"].is_string());
    let (status, _) = status_json(
        api.anonymous
            .get(api.url("/api/v1/status"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    api.stop().await;
}
