//! Turning a [`Grant`] into the token response and the rows to write.

use serde_json::{Value, json};

use super::access_token::{self, AccessClaims};
use super::config::Config;
use super::effects::{AuditEvent, Claim, NewFamily, NewRefresh, Write, Writes, event};
use super::error::OAuthError;
use super::grants::{Family, Grant};
use super::ids;
use super::turn;

/// Where the grant came from, which decides the claim that guards the writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// client_credentials or password: nothing to claim.
    Direct,
    /// A code redemption: claim the code.
    Code {
        /// The code's lookup key.
        key: String,
    },
    /// A refresh: claim the old refresh token.
    Refresh {
        /// The old token's lookup key.
        old_key: String,
    },
}

/// A token response and what to write for it.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The JSON body (RFC 6749 section 5.1, or the TURN shape of [`turn::token_response`]).
    pub body: Value,
    /// Rows to write; the response may be sent only if the claim succeeded.
    pub writes: Writes,
}

/// Mints the tokens a grant decided on.
pub fn issue(
    grant: &Grant,
    source: Source,
    config: &Config,
    now: u64,
) -> Result<Issued, OAuthError> {
    let family_id = match &grant.family {
        Family::None => None,
        Family::New => Some(ids::new_id("f_")?),
        Family::Existing(id) => Some(id.clone()),
    };
    let audit = |ev: &'static str, token_id: String| AuditEvent {
        at: now,
        event: ev,
        token_id: Some(token_id),
        client_id: Some(grant.client_id.clone()),
        user_id: grant.user_id.clone(),
        family_id: family_id.clone(),
        detail: Some(grant.grant_type.as_str()),
    };

    let mut writes = Writes::none();
    if let (Family::New, Some(id)) = (&grant.family, &family_id) {
        writes.push(Write::Family(NewFamily {
            id: id.clone(),
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            scope: grant.family_scope.to_string(),
            created_at: now,
        }));
    }

    let mut new_refresh_key = None;
    let refresh_token = match (&family_id, grant.refresh) {
        (Some(fid), true) => {
            let token = ids::new_opaque(ids::REFRESH_PREFIX)?;
            let key = ids::lookup_key(&token);
            new_refresh_key = Some(key.clone());
            writes.push(Write::Refresh(NewRefresh {
                key,
                family_id: fid.clone(),
                client_id: grant.client_id.clone(),
                user_id: grant.user_id.clone(),
                scope: grant.family_scope.to_string(),
                expires_at: now.saturating_add(u64::from(grant.refresh_ttl)),
                created_at: now,
            }));
            writes.audit(audit(
                event::REFRESH_ISSUED,
                ids::token_id(token.as_bytes()),
            ));
            Some(token)
        }
        _ => None,
    };

    writes.claim = match source {
        Source::Direct => Claim::None,
        Source::Code { key } => Claim::Code {
            key,
            family_id: family_id
                .clone()
                .ok_or_else(|| OAuthError::server_error("a code grant without a family"))?,
            now,
        },
        Source::Refresh { old_key } => Claim::Refresh {
            old_key,
            new_key: new_refresh_key
                .ok_or_else(|| OAuthError::server_error("a refresh without a successor"))?,
            now,
        },
    };

    let body = if grant.turn {
        let minted = turn::mint(config, grant.access_ttl, now)?;
        writes.audit(audit(event::TURN_ISSUED, minted.id.to_string()));
        turn::token_response(&minted, refresh_token.as_deref())
    } else {
        let claims = AccessClaims {
            iss: config.issuer.clone(),
            sub: grant
                .user_id
                .clone()
                .unwrap_or_else(|| grant.client_id.clone()),
            aud: config.issuer.clone(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.to_string(),
            iat: now,
            exp: now.saturating_add(u64::from(grant.access_ttl)),
            jti: ids::new_jti()?,
            gty: grant.grant_type.as_str().to_string(),
            fid: family_id.clone(),
        };
        writes.audit(audit(event::ACCESS_ISSUED, claims.jti.clone()));
        let mut body = json!({
            "access_token": access_token::encode(&config.signing_key, &claims),
            "token_type": "Bearer",
            "expires_in": grant.access_ttl,
            "scope": claims.scope,
        });
        if let (Some(rt), Some(obj)) = (refresh_token, body.as_object_mut()) {
            obj.insert("refresh_token".into(), Value::String(rt));
        }
        body
    };
    Ok(Issued { body, writes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::GrantType;
    use crate::oauth::config::tests::config;
    use crate::oauth::scope::Scope;

    fn family(w: &Writes) -> Option<&NewFamily> {
        w.find(|r| match r {
            Write::Family(f) => Some(f),
            _ => None,
        })
    }

    fn refresh(w: &Writes) -> Option<&NewRefresh> {
        w.find(|r| match r {
            Write::Refresh(n) => Some(n),
            _ => None,
        })
    }

    fn grant(family: Family, refresh: bool, turn: bool) -> Grant {
        Grant {
            client_id: "c1".into(),
            user_id: Some("u_1".into()),
            scope: Scope::parse(if turn { "turn" } else { "openid turn" }).unwrap(),
            family_scope: Scope::parse("openid turn").unwrap(),
            grant_type: GrantType::AuthorizationCode,
            family,
            refresh,
            turn,
            access_ttl: 300,
            refresh_ttl: 1000,
        }
    }

    #[test]
    fn code_redemption_makes_family_refresh_and_claim() {
        let c = config();
        let i = issue(
            &grant(Family::New, true, false),
            Source::Code { key: "k".into() },
            &c,
            5000,
        )
        .unwrap();
        let fam = family(&i.writes).cloned().unwrap();
        let rt = refresh(&i.writes).cloned().unwrap();
        assert_eq!(rt.family_id, fam.id);
        assert_eq!(rt.expires_at, 6000);
        assert_eq!(rt.scope, "openid turn");
        assert_eq!(
            i.writes.claim,
            Claim::Code {
                key: "k".into(),
                family_id: fam.id.clone(),
                now: 5000
            }
        );
        assert_eq!(i.body["token_type"], "Bearer");
        assert_eq!(i.body["expires_in"], 300);
        let token = i.body["refresh_token"].as_str().unwrap();
        assert_eq!(ids::lookup_key(token), rt.key);
        let claims = access_token::decode(
            &c.signing_key,
            i.body["access_token"].as_str().unwrap(),
            &c.issuer,
            5001,
        )
        .unwrap();
        assert_eq!(claims.fid.as_deref(), Some(fam.id.as_str()));
        assert_eq!(claims.user_id(), Some("u_1"));
        // Audit rows name tokens by id only.
        let ids: Vec<_> = i
            .writes
            .audits()
            .map(|a| a.token_id.clone().unwrap())
            .collect();
        assert!(ids.contains(&claims.jti));
        assert!(!format!("{:?}", i.writes).contains(token));
    }

    #[test]
    fn refresh_rotation_claims_old_with_new_key() {
        let c = config();
        let i = issue(
            &grant(Family::Existing("f_x".into()), true, true),
            Source::Refresh {
                old_key: "old".into(),
            },
            &c,
            5000,
        )
        .unwrap();
        assert!(family(&i.writes).is_none());
        let rt = refresh(&i.writes).cloned().unwrap();
        assert_eq!(
            i.writes.claim,
            Claim::Refresh {
                old_key: "old".into(),
                new_key: rt.key.clone(),
                now: 5000
            }
        );
        assert_eq!(i.body["token_type"], "pop");
        assert!(
            i.body["refresh_token"]
                .as_str()
                .unwrap()
                .starts_with("rt1.")
        );
        assert!(i.writes.audits().any(|a| a.event == event::TURN_ISSUED));
    }

    #[test]
    fn client_credentials_writes_only_audit() {
        let c = config();
        let mut g = grant(Family::None, false, false);
        g.user_id = None;
        g.grant_type = GrantType::ClientCredentials;
        let i = issue(&g, Source::Direct, &c, 5000).unwrap();
        assert_eq!(i.writes.claim, Claim::None);
        assert!(family(&i.writes).is_none() && refresh(&i.writes).is_none());
        assert!(i.body.get("refresh_token").is_none());
        let claims = access_token::decode(
            &c.signing_key,
            i.body["access_token"].as_str().unwrap(),
            &c.issuer,
            5000,
        )
        .unwrap();
        assert_eq!((claims.sub.as_str(), claims.user_id()), ("c1", None));
        assert_eq!(i.writes.rows.len(), 1);
        assert_eq!(i.writes.audits().count(), 1);
    }
}
