//! The Apps view: create an app of one of four kinds (the admin API's rules,
//! [`crate::oauth::admin::NewClient`]), rotate a confidential app's secret (shown once),
//! replace its redirect URIs or its RFC 8707 resources (checked as the admin API checks them,
//! [`crate::oauth::clients::registration::registered_resources`]), delete it. The console's own client cannot be changed here
//! (that would lock every administrator out).

use super::layout::{Notice, form};
use super::{CLIENT_ID, event};
use crate::oauth::admin::{self, NewClient, ValidClient};
use crate::oauth::clients::client::{GrantType, redirect_uri_is_acceptable};
use crate::oauth::clients::registration::registered_resources;
use crate::oauth::effects::{AuditEvent, Claim, Write, Writes};
use crate::oauth::error::OAuthError;
use crate::oauth::html::{escape, hidden};
use crate::oauth::params::Params;
use crate::oauth::tokens::resource::{self, Resources};
use crate::store::reads::ClientRow;

/// What kind of app to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A server-side web app: code flow with a secret.
    Confidential,
    /// A browser or native app: code flow with PKCE, no secret.
    Public,
    /// A device without a browser (RFC 8628), no secret.
    Device,
    /// A TURN relay of the control plane: client_credentials with the one scope `relay`.
    Relay,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "confidential" => Kind::Confidential,
            "public" => Kind::Public,
            "device" => Kind::Device,
            "relay" => Kind::Relay,
            _ => return None,
        })
    }

    /// The name shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Confidential => "confidential",
            Kind::Public => "public",
            Kind::Device => "device",
            Kind::Relay => "relay",
        }
    }

    /// The kind a stored client looks like.
    pub fn of(row: &ClientRow) -> Kind {
        if row
            .scopes
            .split(' ')
            .any(|s| s == crate::oauth::control::RELAY_SCOPE)
        {
            Kind::Relay
        } else if row.grant_types.contains(GrantType::DeviceCode.as_str()) {
            Kind::Device
        } else if row.secret_hash.is_some() {
            Kind::Confidential
        } else {
            Kind::Public
        }
    }
}

/// A change posted on the Apps view.
#[derive(Debug)]
pub enum Change {
    /// A new app.
    Create(ValidClient),
    /// A new secret for a confidential app.
    Rotate(String),
    /// New redirect URIs (JSON array as stored).
    RedirectUris {
        /// `client_id`.
        id: String,
        /// The URIs.
        uris: Vec<String>,
    },
    /// New RFC 8707 resources.
    Resources {
        /// `client_id`.
        id: String,
        /// The set, checked.
        resources: Resources,
    },
    /// Delete an app.
    Delete(String),
}

fn lines(text: &str) -> Vec<String> {
    text.split(['\n', '\r', ' '])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn client_id(p: &Params) -> Result<String, OAuthError> {
    let id = p
        .get("client_id")
        .filter(|id| crate::oauth::ids::id_is_acceptable(id))
        .ok_or_else(|| OAuthError::invalid_request("client_id is missing or not an id"))?;
    if id == CLIENT_ID {
        return Err(OAuthError::invalid_request(
            "the console's own client is not changed from the console",
        ));
    }
    Ok(id.to_string())
}

/// Reads a posted form.
pub fn parse(p: &Params) -> Result<Change, OAuthError> {
    match p.get("action") {
        Some("create") => {
            let kind = p
                .get("kind")
                .and_then(Kind::parse)
                .ok_or_else(|| OAuthError::invalid_request("choose a kind of app"))?;
            let name = p.get("name").map(str::trim).filter(|n| !n.is_empty());
            let scopes = lines(p.get("scopes").unwrap_or_default());
            let redirect_uris = lines(p.get("redirect_uris").unwrap_or_default());
            let resources = lines(p.get("resources").unwrap_or_default());
            let code = |public: bool| NewClient {
                client_id: None,
                name: name.map(str::to_string),
                public,
                client_secret: None,
                redirect_uris: redirect_uris.clone(),
                grant_types: None,
                scopes: (!scopes.is_empty()).then(|| scopes.clone()),
                access_token_ttl: None,
                refresh_token_ttl: None,
                post_logout_redirect_uris: Vec::new(),
                id_token_signed_response_alg: None,
                allow_reserved_scopes: false,
                resources: resources.clone(),
                backchannel_logout_uri: None,
                backchannel_logout_session_required: None,
            };
            let new = match kind {
                Kind::Confidential => code(false),
                Kind::Public => code(true),
                Kind::Device => NewClient {
                    redirect_uris: Vec::new(),
                    grant_types: Some(vec![
                        GrantType::DeviceCode.as_str().to_string(),
                        GrantType::RefreshToken.as_str().to_string(),
                    ]),
                    ..code(true)
                },
                Kind::Relay => NewClient {
                    redirect_uris: Vec::new(),
                    grant_types: Some(vec![GrantType::ClientCredentials.as_str().to_string()]),
                    scopes: Some(vec![crate::oauth::control::RELAY_SCOPE.to_string()]),
                    ..code(false)
                },
            };
            Ok(Change::Create(new.validate()?))
        }
        Some("rotate") => Ok(Change::Rotate(client_id(p)?)),
        Some("redirect_uris") => {
            let uris = lines(p.get("redirect_uris").unwrap_or_default());
            if uris.len() > 16 || !uris.iter().all(|u| redirect_uri_is_acceptable(u)) {
                return Err(OAuthError::invalid_request(
                    "redirect URIs must be absolute https URIs (http only for loopback hosts), without fragments, at most 16",
                ));
            }
            Ok(Change::RedirectUris {
                id: client_id(p)?,
                uris,
            })
        }
        Some("resources") => {
            let list = lines(p.get("resources").unwrap_or_default());
            let resources = registered_resources(&list).map_err(|e| {
                OAuthError::invalid_request(format!(
                    "{e}; at most {} resources, each at most {} characters",
                    resource::MAX_COUNT,
                    resource::MAX_LEN
                ))
            })?;
            Ok(Change::Resources {
                id: client_id(p)?,
                resources,
            })
        }
        Some("delete") => Ok(Change::Delete(client_id(p)?)),
        _ => Err(OAuthError::invalid_request("unknown action")),
    }
}

/// Rotating a secret: the new record (the claim: the app must exist and be confidential),
/// with the audit row. Refresh tokens stay valid; the old secret stops working at once.
pub fn rotate(id: &str, secret_hash: String, now: u64) -> Writes {
    Writes::new(Claim::RotateSecret {
        id: id.to_string(),
        secret_hash,
    })
    .with(Write::Audit(AuditEvent {
        client_id: Some(id.to_string()),
        ..AuditEvent::new(now, event::SECRET_ROTATED)
    }))
}

/// Replacing redirect URIs (the app must exist), with the audit row.
pub fn redirect_uris(id: &str, uris: &[String], now: u64) -> Writes {
    Writes::new(Claim::SetRedirectUris {
        id: id.to_string(),
        redirect_uris: serde_json::to_string(uris).unwrap_or_else(|_| "[]".into()),
    })
    .with(Write::Audit(AuditEvent {
        client_id: Some(id.to_string()),
        ..AuditEvent::new(now, event::REDIRECT_URIS_SET)
    }))
}

/// Replacing the RFC 8707 resources (the app must exist), with the audit row.
pub fn resources(id: &str, resources: &Resources, now: u64) -> Writes {
    Writes::new(Claim::SetResources {
        id: id.to_string(),
        resources: resources.to_column(),
    })
    .with(Write::Audit(AuditEvent {
        client_id: Some(id.to_string()),
        ..AuditEvent::new(now, event::RESOURCES_SET)
    }))
}

/// Deleting ([`admin::delete_client`]).
pub fn delete(id: &str, now: u64) -> Writes {
    admin::delete_client(id, None, now)
}

/// A secret to show once: the app and its new secret.
pub struct Shown<'a> {
    /// `client_id`.
    pub id: &'a str,
    /// The secret.
    pub secret: &'a str,
}

/// The Apps view.
pub fn render(rows: &[ClientRow], csrf: &str, shown: Option<Shown<'_>>) -> String {
    let mut out = String::new();
    if let Some(s) = shown {
        out.push_str(&format!(
            "<div class=\"box\"><p>The secret of <code id=\"secret-client\">{}</code>, shown this once:</p>\
<p class=\"secret\" id=\"secret\">{}</p></div>",
            escape(s.id),
            escape(s.secret)
        ));
    }
    let kinds: String = ["confidential", "public", "device", "relay"]
        .iter()
        .map(|k| format!("<option value=\"{k}\">{k}</option>"))
        .collect();
    out.push_str(&format!(
        "<details class=\"box\" id=\"create\"><summary>Create an app</summary>{}</details>",
        form(
            "apps",
            "create",
            csrf,
            &format!(
                "<label>Kind <select name=\"kind\" id=\"kind\">{kinds}</select></label>\
<label>Name <input name=\"name\" id=\"app-name\" maxlength=\"100\"></label>\
<label>Scopes <input name=\"scopes\" id=\"app-scopes\" placeholder=\"openid turn\"></label><br>\
<label>Redirect URIs (one a line; not for device and relay apps)<br><textarea name=\"redirect_uris\" id=\"app-redirects\" rows=\"2\" cols=\"60\"></textarea></label><br>\
<label>Resources its tokens may be for (RFC 8707; one URI a line)<br><textarea name=\"resources\" id=\"app-resources\" rows=\"2\" cols=\"60\"></textarea></label><br>\
<button type=\"submit\" id=\"create-app\">Create</button>"
            ),
            ""
        )
    ));
    out.push_str("<table id=\"apps\"><tr><th>App</th><th>Kind</th><th>Grants and scopes</th><th>Redirect URIs</th><th>Resources</th><th>Actions</th></tr>");
    for r in rows {
        let kind = Kind::of(r);
        let id_field = hidden("client_id", &r.id);
        let uris: Vec<String> = serde_json::from_str(&r.redirect_uris).unwrap_or_default();
        let own = r.id == CLIENT_ID;
        let redirects = if own || matches!(kind, Kind::Device | Kind::Relay) {
            escape(&uris.join(" "))
        } else {
            form(
                "apps",
                "redirect_uris",
                csrf,
                &format!(
                    "{id_field}<textarea name=\"redirect_uris\" rows=\"2\" cols=\"36\" aria-label=\"redirect URIs of {id}\">{}</textarea><br><button type=\"submit\">Save URIs</button>",
                    escape(&uris.join("\n")),
                    id = escape(&r.id)
                ),
                "inline",
            )
        };
        let listed = r
            .resources
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        let resources = if own {
            escape(&listed.join(" "))
        } else {
            form(
                "apps",
                "resources",
                csrf,
                &format!(
                    "{id_field}<textarea name=\"resources\" rows=\"2\" cols=\"30\" aria-label=\"resources of {id}\">{}</textarea><br><button type=\"submit\">Save resources</button>",
                    escape(&listed.join("\n")),
                    id = escape(&r.id)
                ),
                "inline",
            )
        };
        let mut actions = String::new();
        if !own {
            if r.secret_hash.is_some() {
                actions.push_str(&form(
                    "apps",
                    "rotate",
                    csrf,
                    &format!(
                        "{id_field}<button type=\"submit\" class=\"rotate\">Rotate secret</button>"
                    ),
                    "inline",
                ));
            }
            actions.push_str(&form(
                "apps",
                "delete",
                csrf,
                &format!("{id_field}<button type=\"submit\" class=\"delete\">Delete</button>"),
                "inline",
            ));
        } else {
            actions.push_str("<span class=\"muted\">the console itself</span>");
        }
        let owner = r
            .owner_id
            .as_deref()
            .map(|o| {
                format!(
                    "<br><span class=\"muted\">registered by {}</span>",
                    escape(o)
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr data-client=\"{id}\"><td><b>{name}</b><br><code>{id}</code>{owner}</td><td class=\"kind\">{kind}</td>\
<td>{grants}<br><span class=\"muted\">{scopes}</span></td><td>{redirects}</td><td class=\"resources\">{resources}</td><td>{actions}</td></tr>",
            id = escape(&r.id),
            name = escape(&r.name),
            kind = kind.as_str(),
            grants = escape(&r.grant_types),
            scopes = escape(&r.scopes),
        ));
    }
    out.push_str("</table>");
    out
}

/// The notice after a change.
pub fn done(change: &Change, id: &str) -> Notice {
    Notice::Done(match change {
        Change::Create(_) => format!("Created {id}."),
        Change::Rotate(_) => format!("New secret for {id}; the old one no longer works."),
        Change::RedirectUris { .. } => format!("Redirect URIs of {id} saved."),
        Change::Resources { .. } => format!("Resources of {id} saved."),
        Change::Delete(_) => format!("Deleted {id}; its tokens are revoked."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::admin::SecretPlan;

    fn params(s: &str) -> Params {
        Params::from_form(s.as_bytes()).unwrap()
    }

    #[test]
    fn resources_are_checked_as_the_admin_api_checks_them_and_audited() {
        match parse(&params(
            "action=resources&client_id=c1&resources=https%3A%2F%2Fapi.example%2F%0Aurn%3Aexample%3Amedia",
        )) {
            Ok(Change::Resources { id, resources }) => {
                assert_eq!(id, "c1");
                assert_eq!(
                    resources.to_stored(),
                    "https://api.example/ urn:example:media"
                );
                let w = resources_writes(&id, &resources);
                assert_eq!(
                    w.claim,
                    Claim::SetResources {
                        id: "c1".into(),
                        resources: Some("https://api.example/ urn:example:media".into())
                    }
                );
                assert_eq!(w.audits().next().unwrap().event, event::RESOURCES_SET);
            }
            other => panic!("{other:?}"),
        }
        // Empty clears them.
        match parse(&params("action=resources&client_id=c1&resources=")) {
            Ok(Change::Resources { resources, .. }) => {
                assert_eq!(
                    resources_writes("c1", &resources).claim,
                    Claim::SetResources {
                        id: "c1".into(),
                        resources: None
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        let many: String = (0..17)
            .map(|i| format!("https%3A%2F%2Fr{i}.example%2F%0A"))
            .collect();
        for bad in [
            "action=resources&client_id=c1&resources=not-absolute".to_string(),
            "action=resources&client_id=c1&resources=https%3A%2F%2Fa.example%2F%23frag".to_string(),
            format!("action=resources&client_id=c1&resources={many}"),
            "action=resources&client_id=edge-console&resources=".to_string(),
        ] {
            assert!(parse(&params(&bad)).is_err(), "{bad}");
        }
    }

    fn resources_writes(id: &str, r: &Resources) -> Writes {
        resources(id, r, 5)
    }

    #[test]
    fn each_kind_follows_the_admin_api_rules() {
        let c = |q: &str| match parse(&params(q)) {
            Ok(Change::Create(v)) => v,
            other => panic!("{q}: {other:?}"),
        };
        let conf = c(
            "action=create&kind=confidential&name=Web&redirect_uris=https%3A%2F%2Fa.example%2Fcb%0Ahttps%3A%2F%2Fb.example%2Fcb",
        );
        assert_eq!(conf.secret, SecretPlan::Generate);
        assert_eq!(conf.redirect_uris.len(), 2);
        let public = c(
            "action=create&kind=public&redirect_uris=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scopes=openid+turn",
        );
        assert_eq!(public.secret, SecretPlan::None);
        assert_eq!(public.scope.to_string(), "openid turn");
        let device = c("action=create&kind=device");
        assert!(device.grant_types.contains(&GrantType::DeviceCode));
        let relay = c("action=create&kind=relay&scopes=turn");
        assert_eq!(
            (relay.scope.to_string(), relay.grant_types_text()),
            ("relay".to_string(), "client_credentials".to_string())
        );
        for bad in [
            "action=create&kind=confidential",
            "action=create&kind=nope",
            "action=create&kind=public&redirect_uris=http%3A%2F%2Fevil.example%2F",
            "action=rotate&client_id=edge-console",
            "action=delete&client_id=edge-console",
            "action=redirect_uris&client_id=c1&redirect_uris=javascript%3Aalert(1)",
            "action=delete",
        ] {
            assert!(parse(&params(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn rotation_and_uris_are_claims_with_audit_rows() {
        let w = rotate("c1", "pbkdf2$x".into(), 5).by("u1");
        assert!(matches!(w.claim, Claim::RotateSecret { .. }));
        assert_eq!(w.audits().next().unwrap().actor.as_deref(), Some("u1"));
        assert!(!format!("{:?}", w.audits().next()).contains("pbkdf2"));
        let w = redirect_uris("c1", &["https://a.example/cb".into()], 5);
        assert_eq!(
            w.claim,
            Claim::SetRedirectUris {
                id: "c1".into(),
                redirect_uris: r#"["https://a.example/cb"]"#.into()
            }
        );
    }
}
