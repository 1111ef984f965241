//! Turning a [`Grant`] into the token response and the rows to write.

use serde_json::{Value, json};

use super::access_token::AccessClaims;
use super::dpop::Confirmation;
use super::id_token::{self, IdClaims};
use super::jwt::{self, Unsigned};
use super::resource::Audience;
use super::signing_keys::{Alg, KeySet};
use super::turn;
use crate::oauth::config::Config;
use crate::oauth::control::{self, tokens};
use crate::oauth::effects::{AuditEvent, Claim, NewFamily, NewRefresh, Write, Writes, event};
use crate::oauth::error::OAuthError;
use crate::oauth::flows::grants::{Family, Grant};
use crate::oauth::{ids, people::rights};

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
    /// An approved device authorization: claim it.
    Device {
        /// The device code's lookup key.
        key: String,
    },
}

/// A token response still being signed, and what to write for it.
///
/// The worker signs with WebCrypto, asynchronously, so the JWTs leave this module unsigned:
/// the worker asks [`Issued::to_sign`] for the next one, signs its input with the named key,
/// and hands the signature to [`Issued::signed`], until nothing is left; then
/// [`Issued::into_body`] is the response. The access token comes first: the ID token's
/// `at_hash` is computed from it.
#[derive(Clone, Debug)]
pub struct Issued {
    body: Value,
    /// Rows to write; the response may be sent only if the claim succeeded.
    pub writes: Writes,
    access: Option<Unsigned>,
    id_claims: Option<(IdClaims, Alg)>,
    id_token: Option<Unsigned>,
    /// The account a TURN token was minted for ([`super::account`]): what the per-person
    /// TURN rate limit is keyed on.
    pub turn_account: Option<shared_token::AccountKey>,
}

impl Issued {
    /// The next JWT to sign.
    pub fn to_sign(&self) -> Option<&Unsigned> {
        self.access.as_ref().or(self.id_token.as_ref())
    }

    /// The signature of [`Issued::to_sign`]'s JWT.
    pub fn signed(&mut self, signature: &[u8], keys: &KeySet, now: u64) -> Result<(), OAuthError> {
        if let Some(u) = self.access.take() {
            let token = u.finish(signature);
            if let Some((mut claims, alg)) = self.id_claims.take() {
                claims.at_hash = Some(jwt::half_hash(&token));
                let key = keys
                    .signer(alg, now)
                    .ok_or_else(|| OAuthError::server_error("no signing key for the ID token"))?;
                self.id_token = Some(Unsigned::new(key, jwt::TYP_ID, &claims));
            }
            self.put("access_token", token);
        } else if let Some(u) = self.id_token.take() {
            self.put("id_token", u.finish(signature));
        }
        Ok(())
    }

    fn put(&mut self, name: &str, token: String) {
        if let Some(obj) = self.body.as_object_mut() {
            obj.insert(name.into(), Value::String(token));
        }
    }

    /// The response, once every JWT is signed.
    pub fn into_body(self) -> Result<Value, OAuthError> {
        if self.to_sign().is_some() {
            return Err(OAuthError::server_error("a token was left unsigned"));
        }
        Ok(self.body)
    }
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
        actor: None,
    };

    let mut writes = Writes::none();
    if let (Family::New, Some(id)) = (&grant.family, &family_id) {
        writes.push(Write::Family(NewFamily {
            id: id.clone(),
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            scope: grant.family_scope.to_string(),
            auth_time: grant.auth_time,
            authn: grant.authn.clone(),
            created_at: now,
            resource: grant.family_resources.to_column(),
            dpop_jkt: grant.family_dpop_jkt.clone(),
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

    let claimed_family = || {
        family_id
            .clone()
            .ok_or_else(|| OAuthError::server_error("a grant to claim without a family"))
    };
    writes.claim = match source {
        Source::Direct => Claim::None,
        Source::Code { key } => Claim::Code {
            key,
            family_id: claimed_family()?,
            now,
        },
        Source::Device { key } => Claim::Device {
            key,
            family_id: claimed_family()?,
            now,
        },
        Source::Refresh { old_key } => Claim::Refresh {
            old_key,
            new_key: new_refresh_key
                .ok_or_else(|| OAuthError::server_error("a refresh without a successor"))?,
            now,
        },
    };

    if grant.turn {
        let account = super::account::of(
            &config.signing_key,
            grant.user_id.as_deref(),
            &grant.client_id,
        );
        let minted = turn::mint(config, grant.access_ttl, account, now)?;
        writes.audit(audit(event::TURN_ISSUED, minted.id.to_string()));
        writes.push(Write::Control(control::Write::TurnToken(tokens::Issued {
            token_id: minted.id.to_string(),
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            family_id: family_id.clone(),
            issued_at: now,
            expires_at: minted.expires_at(),
        })));
        return Ok(Issued {
            body: turn::token_response(&minted, refresh_token.as_deref()),
            writes,
            access: None,
            id_claims: None,
            id_token: None,
            turn_account: Some(account),
        });
    }

    let key = config
        .signing_keys
        .signer(config.access_token_alg, now)
        .ok_or_else(|| OAuthError::server_error("no signing key is active for access tokens"))?;
    let claims = AccessClaims {
        iss: config.issuer.clone(),
        sub: grant
            .user_id
            .clone()
            .unwrap_or_else(|| grant.client_id.clone()),
        aud: Audience::of(&grant.resources, &config.issuer),
        client_id: grant.client_id.clone(),
        scope: grant.scope.to_string(),
        iat: now,
        exp: now.saturating_add(u64::from(grant.access_ttl)),
        jti: ids::new_jti()?,
        gty: grant.grant_type.as_str().to_string(),
        fid: family_id.clone(),
        auth_time: grant.auth_time,
        rights: grant
            .user
            .as_ref()
            .map(|u| rights::covered(&u.rights, &grant.scope))
            .unwrap_or_default(),
        cnf: grant.dpop_jkt.clone().map(|jkt| Confirmation { jkt }),
    };
    writes.audit(audit(event::ACCESS_ISSUED, claims.jti.clone()));
    let id_claims = match (&grant.id_token, &grant.user) {
        (Some(plan), Some(user)) => {
            let c = id_token::claims(
                &config.issuer,
                &grant.client_id,
                user,
                &grant.scope,
                plan,
                config.id_token_ttl,
                now,
            );
            let mut a = audit(event::ID_TOKEN_ISSUED, claims.jti.clone());
            a.detail = Some(plan.alg.as_str());
            writes.audit(a);
            Some((c, plan.alg))
        }
        _ => None,
    };
    let mut body = json!({
        // RFC 9449 section 5: a bound token is used with the DPoP scheme.
        "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": grant.access_ttl,
        "scope": claims.scope,
    });
    if let (Some(rt), Some(obj)) = (refresh_token, body.as_object_mut()) {
        obj.insert("refresh_token".into(), Value::String(rt));
    }
    Ok(Issued {
        body,
        writes,
        access: Some(claims.unsigned(key)),
        id_claims,
        id_token: None,
        turn_account: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::clients::client::GrantType;
    use crate::oauth::config::tests::config;
    use crate::oauth::records::UserProfile;
    use crate::oauth::scope::Scope;
    use crate::oauth::tokens::access_token;
    use crate::oauth::tokens::id_token::IdTokenPlan;
    use crate::oauth::tokens::jwt::tests::{sign, verify};
    use crate::oauth::tokens::resource::Resources;

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
            authn: None,
            family,
            refresh,
            turn,
            access_ttl: 300,
            refresh_ttl: 1000,
            user: Some(UserProfile {
                id: "u_1".into(),
                username: "alice".into(),
                name: None,
                email: None,
                email_verified: false,
                rights: "api:write turn:priority".into(),
            }),
            id_token: None,
            auth_time: Some(4990),
            resources: Resources::none(),
            family_resources: Resources::none(),
            dpop_jkt: None,
            family_dpop_jkt: None,
        }
    }

    /// Signs what the worker would sign with WebCrypto, natively.
    fn sign_all(mut i: Issued, now: u64) -> (Value, Writes) {
        let c = config();
        while let Some(u) = i.to_sign().cloned() {
            let token = sign(&c.signing_keys, u);
            let sig = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                token.rsplit('.').next().unwrap(),
            )
            .unwrap();
            i.signed(&sig, &c.signing_keys, now).unwrap();
        }
        let w = i.writes.clone();
        (i.into_body().unwrap(), w)
    }

    fn decode(token: &str, now: u64) -> AccessClaims {
        let c = config();
        let p = access_token::parse(token).unwrap();
        let proof = verify(&c.signing_keys, &p).unwrap();
        access_token::check(&p, proof, &c.issuer, now).unwrap()
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
        assert!(i.clone().into_body().is_err(), "nothing leaves unsigned");
        let (body, writes) = sign_all(i, 5000);
        let fam = family(&writes).cloned().unwrap();
        let rt = refresh(&writes).cloned().unwrap();
        assert_eq!(rt.family_id, fam.id);
        assert_eq!(fam.auth_time, Some(4990));
        assert_eq!(rt.expires_at, 6000);
        assert_eq!(rt.scope, "openid turn");
        assert_eq!(
            writes.claim,
            Claim::Code {
                key: "k".into(),
                family_id: fam.id.clone(),
                now: 5000
            }
        );
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 300);
        assert!(body.get("id_token").is_none(), "no ID token was planned");
        let token = body["refresh_token"].as_str().unwrap();
        assert_eq!(ids::lookup_key(token), rt.key);
        let claims = decode(body["access_token"].as_str().unwrap(), 5001);
        assert_eq!(claims.fid.as_deref(), Some(fam.id.as_str()));
        assert_eq!(claims.user_id(), Some("u_1"));
        assert_eq!(
            claims.rights,
            ["turn:priority"],
            "only rights the scope covers"
        );
        // Audit rows name tokens by id only.
        let ids: Vec<_> = writes
            .audits()
            .map(|a| a.token_id.clone().unwrap())
            .collect();
        assert!(ids.contains(&claims.jti));
        assert!(!format!("{writes:?}").contains(token));
    }

    #[test]
    fn id_tokens_follow_the_access_token_with_its_hash() {
        let c = config();
        let mut g = grant(Family::New, true, false);
        g.id_token = Some(IdTokenPlan {
            nonce: Some("n1".into()),
            auth_time: 4990,
            alg: Alg::Rs256,
            authn: None,
        });
        let i = issue(&g, Source::Code { key: "k".into() }, &c, 5000).unwrap();
        let (body, writes) = sign_all(i, 5000);
        let at = body["access_token"].as_str().unwrap();
        let id = body["id_token"].as_str().unwrap();
        let p = jwt::parse(id, jwt::TYP_ID).unwrap();
        assert_eq!(p.alg, Alg::Rs256);
        let claims: IdClaims = p.claims(verify(&c.signing_keys, &p).unwrap()).unwrap();
        assert_eq!(claims.at_hash.as_deref(), Some(jwt::half_hash(at).as_str()));
        assert_eq!(
            (
                claims.aud.as_str(),
                claims.azp.as_str(),
                claims.sub.as_str()
            ),
            ("c1", "c1", "u_1")
        );
        assert_eq!(
            (claims.nonce.as_deref(), claims.auth_time),
            (Some("n1"), 4990)
        );
        assert!(writes.audits().any(|a| a.event == event::ID_TOKEN_ISSUED));
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
        assert!(i.to_sign().is_none(), "a TURN token is not a JWT");
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
        assert!(i.writes.audits().any(|a| a.event == event::TURN_ISSUED));
        // The TURN token is recorded with its family, so revoking the family reaches relays.
        let recorded = i.writes.find(|w| match w {
            Write::Control(control::Write::TurnToken(t)) => Some(t),
            _ => None,
        });
        assert_eq!(recorded.and_then(|t| t.family_id.as_deref()), Some("f_x"));
        let body = i.into_body().unwrap();
        assert_eq!(body["token_type"], "pop");
        assert!(body["refresh_token"].as_str().unwrap().starts_with("rt1."));
    }

    #[test]
    fn the_audience_is_the_resource_and_the_family_keeps_the_grant() {
        let c = config();
        let mut g = grant(Family::New, true, false);
        g.resources = Resources::from_list(["https://api.example/"]).unwrap();
        g.family_resources =
            Resources::from_list(["https://api.example/", "https://b.example/"]).unwrap();
        let i = issue(&g, Source::Code { key: "k".into() }, &c, 5000).unwrap();
        let (body, writes) = sign_all(i, 5000);
        let token = body["access_token"].as_str().unwrap();
        let p = access_token::parse(token).unwrap();
        let proof = verify(&c.signing_keys, &p).unwrap();
        // Not a token for the edge's own endpoints, but a token of this issuer.
        assert!(access_token::check(&p, proof, &c.issuer, 5001).is_err());
        let proof = verify(&c.signing_keys, &p).unwrap();
        let claims = access_token::check_issued(&p, proof, &c.issuer, 5001).unwrap();
        assert_eq!(claims.aud, Audience::One("https://api.example/".into()));
        assert_eq!(
            family(&writes).unwrap().resource.as_deref(),
            Some("https://api.example/ https://b.example/")
        );
        assert_eq!(body["token_type"], "Bearer");
        // DPoP: cnf.jkt and token_type DPoP; the family records the key.
        let mut g = grant(Family::New, true, false);
        g.dpop_jkt = Some("jkt1".into());
        g.family_dpop_jkt = Some("jkt1".into());
        let (body, writes) = sign_all(
            issue(&g, Source::Code { key: "k".into() }, &c, 5000).unwrap(),
            5000,
        );
        assert_eq!(body["token_type"], "DPoP");
        let claims = decode(body["access_token"].as_str().unwrap(), 5001);
        assert_eq!(claims.cnf.map(|c| c.jkt).as_deref(), Some("jkt1"));
        assert_eq!(family(&writes).unwrap().dpop_jkt.as_deref(), Some("jkt1"));
        // Without resources: the issuer, as before RFC 8707.
        let (body, _) = sign_all(
            issue(
                &grant(Family::New, true, false),
                Source::Code { key: "k".into() },
                &c,
                5000,
            )
            .unwrap(),
            5000,
        );
        let claims = decode(body["access_token"].as_str().unwrap(), 5001);
        assert_eq!(claims.aud, Audience::One(c.issuer.clone()));
    }

    #[test]
    fn client_credentials_writes_only_audit() {
        let c = config();
        let mut g = grant(Family::None, false, false);
        g.user_id = None;
        g.user = None;
        g.grant_type = GrantType::ClientCredentials;
        let i = issue(&g, Source::Direct, &c, 5000).unwrap();
        assert_eq!(i.writes.claim, Claim::None);
        assert!(family(&i.writes).is_none() && refresh(&i.writes).is_none());
        let (body, writes) = sign_all(i, 5000);
        assert!(body.get("refresh_token").is_none());
        let claims = decode(body["access_token"].as_str().unwrap(), 5000);
        assert_eq!((claims.sub.as_str(), claims.user_id()), ("c1", None));
        assert!(claims.rights.is_empty());
        assert_eq!(writes.rows.len(), 1);
        assert_eq!(writes.audits().count(), 1);
    }
}
