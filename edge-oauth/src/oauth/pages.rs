//! The pages besides sign-in and consent: `/signup`, `/create_client`, `/device` and the
//! signed-out page. Their state travels in the forms ([`PageState`], sealed like the
//! authorization forms), so the server keeps no session: `/create_client` and `/device` ask
//! for the password, then carry the signed-in person in the sealed state for a few minutes.

use serde::{Deserialize, Serialize};

use super::flows::sealed::{self, FormError};
use super::html::{escape, hidden, page};
use super::keys::{Purpose, SigningKey};

/// Seconds a page's form stays valid.
pub const PAGE_TTL: u64 = 600;
/// Seconds a signed-in `/create_client` console stays usable without signing in again.
pub const CONSOLE_TTL: u64 = 900;

/// Which form a [`PageState`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStage {
    /// The sign-up form.
    Signup,
    /// `/create_client`'s sign-in form.
    ConsoleLogin,
    /// `/create_client` after sign-in.
    Console,
    /// `/device`'s code and sign-in form.
    DeviceLogin,
    /// `/device`'s approval form.
    DeviceConsent,
}

/// The sealed state of a page's form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageState {
    /// Which form.
    pub stage: PageStage,
    /// The signed-in person (console, device consent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Their sign-in name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// When they signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The device authorization being decided (its lookup key) and its client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<(String, String)>,
    /// Binding to the CSRF cookie.
    pub csrf: String,
    /// Unix seconds.
    pub exp: u64,
}

impl PageState {
    /// A fresh state for `stage` (no one signed in yet).
    pub fn new(stage: PageStage, csrf_cookie: &str, now: u64) -> PageState {
        PageState {
            stage,
            user_id: None,
            username: None,
            auth_time: None,
            device: None,
            csrf: sealed::csrf_binding(csrf_cookie),
            exp: now + PAGE_TTL,
        }
    }

    /// The same cookie binding, at a later stage, for a signed-in person.
    pub fn signed_in(
        &self,
        stage: PageStage,
        user_id: &str,
        username: &str,
        now: u64,
        ttl: u64,
    ) -> PageState {
        PageState {
            stage,
            user_id: Some(user_id.to_string()),
            username: Some(username.to_string()),
            auth_time: Some(self.auth_time.unwrap_or(now)),
            device: None,
            csrf: self.csrf.clone(),
            exp: now + ttl,
        }
    }

    /// Sealed for a hidden field.
    pub fn seal(&self, key: &SigningKey) -> String {
        sealed::seal(key, Purpose::Page, self)
    }

    /// Verifies a posted state for one of `stages` against the CSRF cookie and field.
    pub fn open(
        key: &SigningKey,
        sealed_state: Option<&str>,
        stages: &[PageStage],
        cookie: Option<&str>,
        field: Option<&str>,
        now: u64,
    ) -> Result<PageState, FormError> {
        let cookie = sealed::cookie_matches_field(cookie, field)?;
        let st: PageState =
            sealed::open(key, Purpose::Page, sealed_state.ok_or(FormError::Tampered)?)
                .ok_or(FormError::Tampered)?;
        if !stages.contains(&st.stage) {
            return Err(FormError::Tampered);
        }
        sealed::bound_to(&st.csrf, cookie)?;
        if now >= st.exp {
            return Err(FormError::Expired);
        }
        Ok(st)
    }
}

fn form(action: &str, inner: &str, state: &str, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\">{}{}{inner}</form>",
        escape(action),
        hidden("form_state", state),
        hidden("csrf", csrf)
    )
}

fn alert(msg: Option<&str>) -> String {
    msg.map(|m| format!("<p class=\"err\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default()
}

fn field(id: &str, label: &str, kind: &str, extra: &str) -> String {
    format!(
        "<label for=\"{id}\">{label}</label><input type=\"{kind}\" id=\"{id}\" name=\"{id}\" {extra}>"
    )
}

fn credentials() -> String {
    format!(
        "{}{}",
        field(
            "username",
            "Username",
            "text",
            "autocomplete=\"username\" required"
        ),
        field(
            "password",
            "Password",
            "password",
            "autocomplete=\"current-password\" required"
        )
    )
}

/// The sign-up form.
pub fn signup(state: &str, csrf: &str, error: Option<&str>) -> String {
    page(
        "Create an account",
        &format!(
            "<h1>Create an account</h1>{}{}",
            alert(error),
            form(
                "/signup",
                &format!(
                    "{}{}{}{}<button type=\"submit\">Create account</button>",
                    field(
                        "username",
                        "Username (letters, digits, . _ - @)",
                        "text",
                        "autocomplete=\"username\" required maxlength=\"64\""
                    ),
                    field(
                        "password",
                        "Password (at least 8 characters)",
                        "password",
                        "autocomplete=\"new-password\" required minlength=\"8\""
                    ),
                    field(
                        "name",
                        "Name (optional)",
                        "text",
                        "autocomplete=\"name\" maxlength=\"100\""
                    ),
                    field(
                        "email",
                        "Email (optional)",
                        "email",
                        "autocomplete=\"email\" maxlength=\"254\""
                    ),
                ),
                state,
                csrf
            )
        ),
    )
}

/// After a sign-up.
pub fn signed_up(username: &str) -> String {
    page(
        "Account created",
        &format!(
            "<h1>Account created</h1><p id=\"done\">You are <strong>{}</strong>. Go back to the application and sign in.</p>",
            escape(username)
        ),
    )
}

/// A sign-in form for `/create_client` or `/device`.
pub fn sign_in(
    title: &str,
    action: &str,
    state: &str,
    csrf: &str,
    extra: &str,
    error: Option<&str>,
) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1>{}{}",
            escape(title),
            alert(error),
            form(
                action,
                &format!(
                    "{}{extra}{}<button type=\"submit\">Continue</button>",
                    hidden("action", "login"),
                    credentials()
                ),
                state,
                csrf
            )
        ),
    )
}

/// One app in the console list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppLine {
    /// `client_id`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Public or confidential.
    pub public: bool,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Scope.
    pub scope: String,
}

/// What the console shows once after a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// `client_id`.
    pub id: String,
    /// The secret, for a confidential app: shown here, once, and never again.
    pub secret: Option<String>,
}

/// The `/create_client` console: the person's apps (each with a delete button), and the form
/// that registers another.
#[allow(clippy::too_many_arguments)]
pub fn console(
    username: &str,
    apps: &[AppLine],
    scopes: &[&str],
    grants: &[&str],
    state: &str,
    csrf: &str,
    created: Option<&Created>,
    error: Option<&str>,
) -> String {
    let created = created
        .map(|c| {
            let secret = c
                .secret
                .as_deref()
                .map(|s| format!("<p>Client secret (shown once, copy it now): <code id=\"client-secret\">{}</code></p>", escape(s)))
                .unwrap_or_default();
            format!(
                "<section id=\"created\"><h2>Registered</h2><p>Client id: <code id=\"client-id\">{}</code></p>{secret}</section>",
                escape(&c.id)
            )
        })
        .unwrap_or_default();
    let list: String = apps
        .iter()
        .map(|a| {
            format!(
                "<li data-client-id=\"{id}\"><strong>{}</strong> <code>{id}</code> ({}, {})<br><small>{}</small>{}</li>",
                escape(&a.name),
                if a.public { "public" } else { "confidential" },
                escape(&a.scope),
                escape(&a.redirect_uris.join(" ")),
                form(
                    "/create_client",
                    &format!(
                        "{}{}<button type=\"submit\">Delete</button>",
                        hidden("action", "delete"),
                        hidden("client_id", &a.id)
                    ),
                    state,
                    csrf
                ),
                id = escape(&a.id),
            )
        })
        .collect();
    let boxes = |prefix: &str, names: &[&str], checked: &[&str]| -> String {
        names
            .iter()
            .map(|n| {
                let id = format!("{prefix}.{n}");
                format!(
                    "<label><input type=\"checkbox\" name=\"{id}\" id=\"{id}\"{}> {}</label>",
                    if checked.contains(n) { " checked" } else { "" },
                    escape(n),
                    id = escape(&id)
                )
            })
            .collect()
    };
    page(
        "Your apps",
        &format!(
            "<h1>Your apps</h1><p>Signed in as <strong>{}</strong>.</p>{}{created}<ul id=\"apps\">{list}</ul>\
<h2>Register an app</h2>{}",
            escape(username),
            alert(error),
            form(
                "/create_client",
                &format!(
                    "{}{}<label for=\"redirect_uris\">Redirect URIs (one per line)</label><textarea id=\"redirect_uris\" name=\"redirect_uris\" rows=\"3\"></textarea>\
<label for=\"post_logout_redirect_uris\">Sign-out return URIs (optional, one per line)</label><textarea id=\"post_logout_redirect_uris\" name=\"post_logout_redirect_uris\" rows=\"2\"></textarea>\
<fieldset><legend>Type</legend><label><input type=\"radio\" name=\"type\" value=\"public\" id=\"type-public\" checked> public (a browser or mobile app: no secret)</label>\
<label><input type=\"radio\" name=\"type\" value=\"confidential\" id=\"type-confidential\"> confidential (a server: gets a secret)</label></fieldset>\
<fieldset><legend>Grants</legend>{}</fieldset><fieldset><legend>Scopes</legend>{}</fieldset><button type=\"submit\">Register</button>",
                    hidden("action", "create"),
                    field("name", "Name", "text", "required maxlength=\"100\""),
                    boxes("grant", grants, &["authorization_code", "refresh_token"]),
                    boxes("scope", scopes, &["openid"]),
                ),
                state,
                csrf
            )
        ),
    )
}

/// `/device`'s approval question.
pub fn device_consent(
    client_name: &str,
    username: &str,
    scopes: &[&str],
    state: &str,
    csrf: &str,
) -> String {
    let items: String = scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    page(
        "Allow a device",
        &format!(
            "<h1>Allow {} on your device?</h1><p>Signed in as <strong>{}</strong>. The device asks for:</p><ul>{items}</ul>{}",
            escape(client_name),
            escape(username),
            form(
                "/device",
                &format!(
                    "{}<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button><button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>",
                    hidden("action", "decide")
                ),
                state,
                csrf
            )
        ),
    )
}

/// A page that only says something (`id` marks it for tests and scripts).
pub fn message(title: &str, id: &str, text: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1><p id=\"{}\">{}</p>",
            escape(title),
            escape(id),
            escape(text)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_binds_stage_cookie_and_time() {
        let k = SigningKey::new(&[5; 32]).unwrap();
        let st = PageState::new(PageStage::ConsoleLogin, "ck", 100);
        let s = st.seal(&k);
        let open = |stages: &[PageStage], cookie, now| {
            PageState::open(&k, Some(&s), stages, Some(cookie), Some(cookie), now)
        };
        assert_eq!(open(&[PageStage::ConsoleLogin], "ck", 101).unwrap(), st);
        assert_eq!(
            open(&[PageStage::Console], "ck", 101),
            Err(FormError::Tampered)
        );
        assert_eq!(
            open(&[PageStage::ConsoleLogin], "other", 101),
            Err(FormError::Csrf)
        );
        assert_eq!(
            open(&[PageStage::ConsoleLogin], "ck", 100 + PAGE_TTL),
            Err(FormError::Expired)
        );
        // A sealed authorization form is not a page state (its own subkey).
        let forged = sealed::seal(&k, Purpose::Form, &st);
        assert_eq!(
            PageState::open(
                &k,
                Some(&forged),
                &[PageStage::ConsoleLogin],
                Some("ck"),
                Some("ck"),
                101
            ),
            Err(FormError::Tampered)
        );
        let console = st.signed_in(PageStage::Console, "u_1", "alice", 200, CONSOLE_TTL);
        assert_eq!(
            (console.exp, console.auth_time, console.csrf.as_str()),
            (200 + CONSOLE_TTL, Some(200), st.csrf.as_str())
        );
    }

    #[test]
    fn pages_escape_and_show_secrets_only_when_created() {
        let evil = "<script>x</script>";
        let apps = [AppLine {
            id: evil.into(),
            name: evil.into(),
            public: true,
            redirect_uris: vec![evil.into()],
            scope: "openid".into(),
        }];
        let p = console(
            evil,
            &apps,
            &["openid"],
            &["authorization_code"],
            "s",
            "c",
            None,
            Some(evil),
        );
        assert!(!p.contains("<script>"));
        assert!(!p.contains("client-secret"));
        let created = Created {
            id: "c_1".into(),
            secret: Some("s3cret".into()),
        };
        let p = console(
            "a",
            &[],
            &["openid"],
            &["authorization_code"],
            "s",
            "c",
            Some(&created),
            None,
        );
        assert!(p.contains("id=\"client-secret\">s3cret<"));
        assert!(!signup("s", "c", Some(evil)).contains("<script>"));
        assert!(!device_consent(evil, evil, &[evil], "s", "c").contains("<script>"));
        assert!(!message(evil, "x", evil).contains("<script>"));
    }
}
