//! The grant decisions on plain records: codes, refresh tokens, client credentials, password.

use super::tests::client;
use super::*;
use crate::oauth::clients::client_auth::{self, AuthenticatedClient, Step};
use crate::oauth::clients::verify_cache::VerifyCache;
use crate::oauth::config::tests::config;
use crate::oauth::effects::Writes;
use crate::oauth::error::ErrorCode;
use crate::oauth::people::password as hashing;
use crate::oauth::{flows::pkce, people::user_auth};
use crate::store::reads::{CodeRow, RefreshRow};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn p(s: &str) -> Params {
    Params::from_form(s.as_bytes()).unwrap()
}

fn authed(record: ClientRecord) -> AuthenticatedClient {
    let presented = if record.is_public() {
        client_auth::presented(None, &p(&format!("client_id={}", record.id))).unwrap()
    } else {
        client_auth::presented(
            None,
            &p(&format!("client_id={}&client_secret=s", record.id)),
        )
        .unwrap()
    };
    match client_auth::begin(Some(record), presented).unwrap() {
        Step::Done(c) => *c,
        Step::Verify(pending) => {
            let d = hashing::derive(
                pending.secret_bytes(),
                pending.hash().salt(),
                pending.hash().iterations(),
            );
            pending.verify(&d, &mut VerifyCache::default(), 0).unwrap()
        }
    }
}

fn code_row() -> CodeRow {
    CodeRow {
        client_id: "c1".into(),
        user_id: "u_1".into(),
        redirect_uri: "https://app.example/cb".into(),
        scope: "openid turn".into(),
        code_challenge: pkce::s256(VERIFIER),
        expires_at: 1060,
        used_at: None,
        family_id: None,
        nonce: Some("n1".into()),
        auth_time: Some(995),
        sid: Some("s_1".into()),
        amr: Some("pwd".into()),
        acr: Some("0".into()),
        resource: None,
        username: Some("alice".into()),
        name: None,
        email: Some("alice@example.com".into()),
        email_verified: Some(1),
        rights: Some("turn:priority".into()),
    }
}

fn redeem(
    params: &str,
    row: Option<CodeRow>,
    now: u64,
) -> Result<authorization_code::Outcome, OAuthError> {
    let c = authed(client(
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        "openid turn",
        true,
    ));
    authorization_code::decide(&c, &p(params), row, &config(), now)
}

fn good_redeem() -> String {
    format!(
        "grant_type=authorization_code&code=ac1.x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier={VERIFIER}"
    )
}

#[test]
fn code_redeems_into_a_new_family_with_refresh() {
    let authorization_code::Outcome::Redeem(g) =
        redeem(&good_redeem(), Some(code_row()), 1000).unwrap()
    else {
        panic!()
    };
    assert_eq!(g.user_id.as_deref(), Some("u_1"));
    assert_eq!(
        (g.family.clone(), g.refresh, g.turn),
        (Family::New, true, false)
    );
    assert_eq!(g.scope.to_string(), "openid turn");
    let plan = g.id_token.clone().unwrap();
    assert_eq!((plan.nonce.as_deref(), plan.auth_time), (Some("n1"), 995));
    assert_eq!(g.auth_time, Some(995));
    // How the person was authenticated reaches the ID token and the family.
    let authn = plan.authn.unwrap();
    assert_eq!(
        (authn.sid.as_deref(), authn.amr_list(), authn.acr.as_str()),
        (Some("s_1"), vec!["pwd".to_string()], "0")
    );
    assert_eq!(g.authn.as_ref().and_then(|a| a.sid.as_deref()), Some("s_1"));
    let user = g.user.unwrap();
    assert_eq!(user.rights, "turn:priority");
    assert!(
        user.email_verified,
        "the verified address reaches the tokens"
    );
}

#[test]
fn a_deleted_user_s_code_or_refresh_token_is_refused() {
    let gone = CodeRow {
        username: None,
        ..code_row()
    };
    assert_eq!(
        redeem(&good_redeem(), Some(gone), 1000).unwrap_err().code,
        ErrorCode::InvalidGrant
    );
    let gone = RefreshRow {
        username: None,
        ..refresh_row()
    };
    assert_eq!(
        refresh("refresh_token=rt1.x", Some(gone), 1000)
            .unwrap_err()
            .code,
        ErrorCode::InvalidGrant
    );
}

#[test]
fn code_failures() {
    let cases: Vec<(String, Option<CodeRow>, u64, ErrorCode)> = vec![
        (good_redeem(), None, 1000, ErrorCode::InvalidGrant),
        (
            good_redeem(),
            Some(code_row()),
            1060,
            ErrorCode::InvalidGrant,
        ),
        (
            good_redeem().replace("cb&", "cb2&"),
            Some(code_row()),
            1000,
            ErrorCode::InvalidGrant,
        ),
        (
            good_redeem().replace("dBj", "eBj"),
            Some(code_row()),
            1000,
            ErrorCode::InvalidGrant,
        ),
        (
            good_redeem().replace(&format!("&code_verifier={VERIFIER}"), ""),
            Some(code_row()),
            1000,
            ErrorCode::InvalidRequest,
        ),
        (
            good_redeem().replace("&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", ""),
            Some(code_row()),
            1000,
            ErrorCode::InvalidRequest,
        ),
        (
            good_redeem(),
            Some(CodeRow {
                client_id: "other".into(),
                ..code_row()
            }),
            1000,
            ErrorCode::InvalidGrant,
        ),
        // A verifier equal to the challenge is what a `plain` client would send.
        (
            good_redeem().replace(VERIFIER, &pkce::s256(VERIFIER)),
            Some(code_row()),
            1000,
            ErrorCode::InvalidGrant,
        ),
    ];
    for (params, row, now, want) in cases {
        assert_eq!(
            redeem(&params, row, now).unwrap_err().code,
            want,
            "{params}"
        );
    }
}

#[test]
fn used_code_is_a_replay_naming_its_family() {
    let row = CodeRow {
        used_at: Some(1001),
        family_id: Some("f_1".into()),
        ..code_row()
    };
    let authorization_code::Outcome::Replayed { revoke } =
        redeem(&good_redeem(), Some(row), 1002).unwrap()
    else {
        panic!()
    };
    assert_eq!(revoke, revocation("f_1", "code_replay", 1002));
    // A used code without a family (none recorded) revokes nothing but is still refused.
    let row = CodeRow {
        used_at: Some(1001),
        ..code_row()
    };
    assert!(matches!(
        redeem(&good_redeem(), Some(row), 1002).unwrap(),
        authorization_code::Outcome::Replayed { revoke } if revoke.is_empty()
    ));
}

/// The writes a revocation of `family` for `reason` must be: the family and one audit row.
fn revocation(family: &str, reason: &'static str, at: u64) -> Writes {
    use crate::oauth::effects::{AuditEvent, Claim, Write, event};
    Writes {
        claim: Claim::None,
        rows: vec![
            Write::RevokeFamily {
                id: family.into(),
                reason,
                at,
            },
            Write::Audit(AuditEvent {
                client_id: Some("c1".into()),
                family_id: Some(family.into()),
                detail: Some(reason),
                ..AuditEvent::new(at, event::FAMILY_REVOKED)
            }),
        ],
    }
}

fn refresh_row() -> RefreshRow {
    RefreshRow {
        family_id: "f_1".into(),
        client_id: "c1".into(),
        user_id: Some("u_1".into()),
        scope: "openid turn".into(),
        created_at: 900,
        expires_at: 2000,
        used_at: None,
        family_revoked_at: None,
        auth_time: Some(800),
        sid: Some("s_9".into()),
        amr: Some("pwd".into()),
        acr: Some("1".into()),
        resource: None,
        dpop_jkt: None,
        username: Some("alice".into()),
        name: None,
        email: None,
        email_verified: None,
        rights: None,
    }
}

fn refresh(
    params: &str,
    row: Option<RefreshRow>,
    now: u64,
) -> Result<refresh_token::Outcome, OAuthError> {
    let c = authed(client(
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        "openid turn",
        true,
    ));
    refresh_token::decide(&c, &p(params), row, &config(), now)
}

#[test]
fn refresh_rotates_in_the_same_family_and_may_narrow() {
    let refresh_token::Outcome::Rotate(g) =
        refresh("refresh_token=rt1.x", Some(refresh_row()), 1000).unwrap()
    else {
        panic!()
    };
    assert_eq!(g.family, Family::Existing("f_1".into()));
    assert!(g.refresh && !g.turn);
    // OpenID Connect Core 12.2: the original auth_time, no nonce.
    let plan = g.id_token.unwrap();
    assert_eq!((plan.nonce, plan.auth_time), (None, 800));
    // ... and the sign-in's session and methods.
    assert_eq!(
        plan.authn.map(|a| (a.sid, a.acr)),
        Some((Some("s_9".into()), "1".into()))
    );
    let refresh_token::Outcome::Rotate(g) =
        refresh("refresh_token=rt1.x&scope=turn", Some(refresh_row()), 1000).unwrap()
    else {
        panic!()
    };
    assert!(g.turn, "narrowed to turn: a TURN token");
    assert!(g.id_token.is_none());
    assert_eq!(
        g.family_scope.to_string(),
        "openid turn",
        "the family keeps its scope"
    );
}

#[test]
fn refresh_failures_and_reuse() {
    assert_eq!(
        refresh(
            "refresh_token=rt1.x",
            Some(RefreshRow {
                used_at: Some(950),
                ..refresh_row()
            }),
            1000
        )
        .unwrap(),
        refresh_token::Outcome::Reused {
            revoke: revocation("f_1", "refresh_reuse", 1000)
        }
    );
    let cases = [
        (None, 1000, ErrorCode::InvalidGrant),
        (Some(refresh_row()), 2000, ErrorCode::InvalidGrant),
        (
            Some(RefreshRow {
                family_revoked_at: Some(999),
                ..refresh_row()
            }),
            1000,
            ErrorCode::InvalidGrant,
        ),
        (
            Some(RefreshRow {
                client_id: "c2".into(),
                ..refresh_row()
            }),
            1000,
            ErrorCode::InvalidGrant,
        ),
    ];
    for (row, now, want) in cases {
        assert_eq!(
            refresh("refresh_token=rt1.x", row.clone(), now)
                .unwrap_err()
                .code,
            want,
            "{row:?}"
        );
    }
    assert_eq!(
        refresh(
            "refresh_token=rt1.x&scope=openid+admin",
            Some(refresh_row()),
            1000
        )
        .unwrap_err()
        .code,
        ErrorCode::InvalidScope
    );
}

#[test]
fn client_credentials_needs_a_confidential_client() {
    let cfg = config();
    let public = authed(client(&[GrantType::ClientCredentials], "api", true));
    assert_eq!(
        client_credentials::decide(&public, &p(""), &cfg)
            .unwrap_err()
            .code,
        ErrorCode::UnauthorizedClient
    );
    let conf = authed(client(&[GrantType::ClientCredentials], "api turn", false));
    let g = client_credentials::decide(&conf, &p("scope=turn"), &cfg).unwrap();
    assert!(g.turn && !g.refresh && g.user_id.is_none() && g.family == Family::None);
    let g = client_credentials::decide(&conf, &p(""), &cfg).unwrap();
    assert_eq!(
        (g.scope.to_string(), g.turn),
        ("api turn".to_string(), false)
    );
}

#[test]
fn password_grant_for_a_verified_user() {
    let cfg = config();
    let row = user_auth::tests::row("hunter22");
    let pending = user_auth::begin(Some(row), "hunter22", 1_000).unwrap();
    let d = hashing::derive(
        pending.password_bytes(),
        pending.hash().salt(),
        pending.hash().iterations(),
    );
    let user = pending.verify(&d).unwrap();
    let with_refresh = authed(client(
        &[GrantType::Password, GrantType::RefreshToken],
        "turn",
        false,
    ));
    let g = password::decide(&with_refresh, &user, &p(""), &cfg).unwrap();
    assert!(g.turn && g.refresh && g.family == Family::New);
    let without = authed(client(&[GrantType::Password], "turn openid", false));
    let g = password::decide(&without, &user, &p(""), &cfg).unwrap();
    assert!(!g.turn && !g.refresh && g.family == Family::None);
}

const API: &str = "https://api.example/mcp";
const API_Q: &str = "https%3A%2F%2Fapi.example%2Fmcp";
const OTHER_Q: &str = "https%3A%2F%2Fother.example%2F";

fn resourceful() -> AuthenticatedClient {
    let mut c = client(
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        "openid turn",
        true,
    );
    c.resources = Resources::from_list([API, "https://other.example/"]).unwrap();
    authed(c)
}

#[test]
fn codes_and_refreshes_keep_to_the_resources_granted() {
    let cfg = config();
    let code = CodeRow {
        resource: Some(API.into()),
        ..code_row()
    };
    // No resource at the token endpoint: the one granted at authorization.
    let authorization_code::Outcome::Redeem(g) = authorization_code::decide(
        &resourceful(),
        &p(&good_redeem()),
        Some(code.clone()),
        &cfg,
        1000,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(g.resources.to_stored(), API);
    assert_eq!(g.family_resources.to_stored(), API);
    // Another registered resource the authorization did not grant: invalid_target.
    let wider = format!("{}&resource={OTHER_Q}", good_redeem());
    let e =
        authorization_code::decide(&resourceful(), &p(&wider), Some(code), &cfg, 1000).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidTarget);
    // A family that granted two resources may be refreshed to one, and the family keeps both.
    let row = RefreshRow {
        resource: Some(format!("{API} https://other.example/")),
        ..refresh_row()
    };
    let narrow = format!("refresh_token=rt1.x&resource={API_Q}");
    let refresh_token::Outcome::Rotate(g) =
        refresh_token::decide(&resourceful(), &p(&narrow), Some(row.clone()), &cfg, 1000).unwrap()
    else {
        panic!()
    };
    assert_eq!(g.resources.to_stored(), API);
    assert_eq!(g.family_resources.len(), 2);
    // A family granted only one may not be widened to the other.
    let one = RefreshRow {
        resource: Some(API.into()),
        ..refresh_row()
    };
    let wide = format!("refresh_token=rt1.x&resource={OTHER_Q}");
    let e = refresh_token::decide(&resourceful(), &p(&wide), Some(one), &cfg, 1000).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidTarget);
    // A family without resources (the edge's own) may not be widened to an API either.
    let e = refresh_token::decide(&resourceful(), &p(&narrow), Some(refresh_row()), &cfg, 1000)
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidTarget);
    // A TURN token (scope turn only) is not for another resource.
    let turn = format!("refresh_token=rt1.x&scope=turn&resource={API_Q}");
    let e = refresh_token::decide(&resourceful(), &p(&turn), Some(row), &cfg, 1000).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidTarget);
}

#[test]
fn dpop_binds_the_access_token_and_a_public_client_s_family() {
    use crate::oauth::tokens::dpop::{self, Proof};
    let key = Proof { jkt: "k1".into() };
    let other = Proof { jkt: "k2".into() };
    // A code redemption with a proof: access token and (public client) family bound.
    let authorization_code::Outcome::Redeem(mut g) =
        redeem(&good_redeem(), Some(code_row()), 1000).unwrap()
    else {
        panic!()
    };
    dpop::bind(&mut g, Some(&key), None, true).unwrap();
    assert_eq!(
        (g.dpop_jkt.as_deref(), g.family_dpop_jkt.as_deref()),
        (Some("k1"), Some("k1"))
    );
    // A confidential client's family is not bound (its secret already binds the refresh).
    let authorization_code::Outcome::Redeem(mut g) =
        redeem(&good_redeem(), Some(code_row()), 1000).unwrap()
    else {
        panic!()
    };
    dpop::bind(&mut g, Some(&key), None, false).unwrap();
    assert_eq!(
        (g.dpop_jkt.as_deref(), g.family_dpop_jkt),
        (Some("k1"), None)
    );
    // A bound family's refresh: without a proof, or with another key, refused.
    let rotate = || match refresh("refresh_token=rt1.x", Some(refresh_row()), 1000).unwrap() {
        refresh_token::Outcome::Rotate(g) => g,
        other => panic!("{other:?}"),
    };
    for proof in [None, Some(&other)] {
        let e = dpop::bind(&mut rotate(), proof, Some("k1"), true).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidGrant);
    }
    let mut g = rotate();
    dpop::bind(&mut g, Some(&key), Some("k1"), true).unwrap();
    assert_eq!(g.dpop_jkt.as_deref(), Some("k1"));
    assert_eq!(
        g.family_dpop_jkt, None,
        "the family row already holds its key"
    );
    // Without a proof and without a bound family: a bearer token, as before.
    let mut g = rotate();
    dpop::bind(&mut g, None, None, true).unwrap();
    assert_eq!(g.dpop_jkt, None);
}
