//! Revocation on the virtual clock: a revoked token's allocations end at once (routes, then
//! the relay socket, then the event), the token is refused with 401 at every request
//! afterwards, other credentials are untouched, and the entry goes once the token would have
//! expired anyway.

use std::time::Duration;

use relay_proto::{
    AuthFailure, Config, EndReason, Event, Input, Output, RevokedToken, RouteChange,
};
use shared_token::{BrowserCredential, TokenId};

use super::harness::*;

const PEER: &str = "127.0.0.1:40000";

fn token_client(h: &H, a: &str, lifetime: u32, random: u8) -> (C, TokenId, u64) {
    let (kid, tok, mac) = token(h, lifetime, random);
    let id = TokenId::of(&tok);
    let c = C::new(a, Creds::Token(kid, tok, mac.secret().to_vec()));
    (c, id, h.unix() + u64::from(lifetime))
}

fn browser_client(h: &H, a: &str, lifetime: u32, random: u8) -> (C, TokenId, u64) {
    let (kid, tok, mac) = token(h, lifetime, random);
    let cred = BrowserCredential::new(&kid, &tok, &mac).unwrap();
    let c = C::new(a, Creds::LongTerm(cred.username, cred.credential));
    (c, TokenId::of(&tok), h.unix() + u64::from(lifetime))
}

fn revoke(h: &mut H, id: TokenId, expires_at: u64) {
    h.input(Input::Revoke {
        tokens: &[RevokedToken { id, expires_at }],
    });
}

fn revoked_ends(h: &H) -> Vec<Option<TokenId>> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::AllocationEnded {
                info,
                reason: EndReason::Revoked,
                ..
            } => Some(info.token_id),
            _ => None,
        })
        .collect()
}

fn refused_as_revoked(h: &H) -> usize {
    h.events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::AuthFailed {
                    why: AuthFailure::Revoked,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn a_revoked_token_ends_its_allocations_and_only_those() {
    let mut h = H::new();
    let (mut oauth, oauth_id, oauth_exp) = token_client(&h, "203.0.113.1:1000", 600, 1);
    let (mut browser, browser_id, _) = browser_client(&h, "203.0.113.2:1000", 600, 2);
    let (mut other, _, _) = token_client(&h, "203.0.113.3:1000", 600, 3);
    let mut alice = C::new(
        "203.0.113.4:1000",
        Creds::LongTerm("alice".into(), "secret".into()),
    );
    for c in [&mut oauth, &mut browser, &mut other, &mut alice] {
        assert!(is_success(&c.allocate(&mut h, None)));
    }
    assert_eq!(h.server.allocations(), 4);

    revoke(&mut h, oauth_id, oauth_exp);
    assert_eq!(revoked_ends(&h), [Some(oauth_id)]);
    assert_eq!(h.server.allocations(), 3);
    assert_eq!(h.released.len(), 1, "its relay socket is released");

    // The browser credential carries a token too; revoking it (twice, harmlessly) ends it.
    revoke(&mut h, browser_id, oauth_exp);
    revoke(&mut h, browser_id, oauth_exp);
    assert_eq!(revoked_ends(&h), [Some(oauth_id), Some(browser_id)]);
    assert_eq!(h.server.allocations(), 2);
    assert_eq!(h.server.stats().revoked_allocations, 2);

    // Everyone else still relays and refreshes.
    assert!(is_success(&other.refresh(&mut h, None)));
    assert!(is_success(&alice.refresh(&mut h, None)));
}

#[test]
fn a_revoked_token_is_refused_with_401_at_every_request() {
    let mut h = H::new();
    let (mut c, id, exp) = token_client(&h, "203.0.113.1:1000", 600, 1);
    assert!(is_success(&c.allocate(&mut h, None)));
    assert!(is_success(&c.permit(&mut h, addr(PEER))));
    revoke(&mut h, id, exp);
    // Refresh, CreatePermission and ChannelBind on the (ended) allocation, and a new
    // Allocate from the same and from another address: 401, a challenge naming the server,
    // never 437 (authentication comes first).
    let refresh = c.refresh(&mut h, None);
    assert_eq!(code(&refresh), Some(401));
    assert!(has(&refresh, relay_proto::wire::THIRD_PARTY_AUTHORIZATION));
    assert_eq!(code(&c.permit(&mut h, addr(PEER))), Some(401));
    assert_eq!(code(&c.bind(&mut h, 0x4000, addr(PEER))), Some(401));
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    c.addr = addr("203.0.113.9:1000");
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    assert_eq!(h.server.allocations(), 0);
    assert!(refused_as_revoked(&h) >= 5, "each refusal says why");

    // The same for a browser credential revoked before it was ever used.
    let (mut b, bid, bexp) = browser_client(&h, "203.0.113.2:1000", 600, 2);
    revoke(&mut h, bid, bexp);
    assert_eq!(code(&b.allocate(&mut h, None)), Some(401));
    assert_eq!(h.server.allocations(), 0);
}

#[test]
fn a_new_token_on_an_allocation_is_checked_too() {
    // RFC 7635 clients may refresh with a new token: a revoked one is refused and the
    // allocation keeps its old credential.
    let mut h = H::new();
    let (kid, tok, mac) = token(&h, 600, 1);
    let mut c = C::new(
        "203.0.113.1:1000",
        Creds::Token(kid, tok, mac.secret().to_vec()),
    );
    assert!(is_success(&c.allocate(&mut h, None)));
    let (kid2, tok2, mac2) = token(&h, 600, 2);
    let exp = h.unix() + 600;
    revoke(&mut h, TokenId::of(&tok2), exp);
    assert_eq!(
        h.server.allocations(),
        1,
        "the allocation's own token stands"
    );
    c.creds = Creds::Token(kid2, tok2, mac2.secret().to_vec());
    assert_eq!(code(&c.refresh(&mut h, None)), Some(401));
    assert_eq!(h.server.allocations(), 1);
}

#[test]
fn ending_by_revocation_clears_routes_before_the_release_and_the_event() {
    let mut cfg: Config = config();
    cfg.channel_routes = true;
    let mut h = H::with(cfg);
    let (mut c, id, exp) = token_client(&h, "203.0.113.1:1000", 600, 1);
    assert!(is_success(&c.allocate(&mut h, None)));
    assert!(is_success(&c.bind(&mut h, 0x4000, addr(PEER))));
    let start = h.outputs.len();
    revoke(&mut h, id, exp);
    let tail: Vec<&Output> = h.outputs[start..].iter().collect();
    let clear = tail
        .iter()
        .position(|o| matches!(o, Output::Route(RouteChange::Clear { .. })));
    let release = tail
        .iter()
        .position(|o| matches!(o, Output::ReleaseRelay { .. }));
    let event = tail.iter().position(|o| {
        matches!(
            o,
            Output::Event(Event::AllocationEnded {
                reason: EndReason::Revoked,
                ..
            })
        )
    });
    assert!(
        matches!((clear, release, event), (Some(a), Some(b), Some(c)) if a < b && b < c),
        "{tail:?}"
    );
}

#[test]
fn entries_go_once_the_token_would_have_expired() {
    let mut h = H::new();
    let (mut c, id, exp) = token_client(&h, "203.0.113.1:1000", 120, 1);
    revoke(&mut h, id, exp);
    assert_eq!(h.server.footprint().revoked, 1);
    // An entry for a token that expired long ago is not kept at all.
    let long_ago = h.unix() - 3600;
    revoke(&mut h, TokenId::of(b"old"), long_ago);
    assert_eq!(h.server.footprint().revoked, 1);
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    // Past the token's expiry plus the clock skew the token fails validation by itself, and
    // the entry is gone at the next deadline or revocation.
    let mut alice = C::new(
        "203.0.113.4:1000",
        Creds::LongTerm("alice".into(), "secret".into()),
    );
    assert!(is_success(&alice.allocate(&mut h, Some(3600))));
    h.advance(Duration::from_secs(126));
    let soon = h.unix() + 60;
    revoke(&mut h, TokenId::of(b"another"), soon);
    assert_eq!(h.server.footprint().revoked, 1, "only the new entry");
    assert_eq!(code(&c.allocate(&mut h, None)), Some(401), "expired now");
    assert!(
        !h.events.iter().rev().take(3).any(|e| matches!(
            e,
            Event::AuthFailed {
                why: AuthFailure::Revoked,
                ..
            }
        )),
        "refused as expired, not as revoked"
    );
}

#[test]
fn the_set_is_bounded() {
    let mut cfg = config();
    cfg.max_revoked = 3;
    let mut h = H::with(cfg);
    let tokens: Vec<RevokedToken> = (0..5u8)
        .map(|n| RevokedToken {
            id: TokenId::of(&[n]),
            expires_at: h.unix() + 600,
        })
        .collect();
    h.input(Input::Revoke { tokens: &tokens });
    assert_eq!(h.server.footprint().revoked, 3);
    assert_eq!(h.server.stats().revocations_dropped, 2);
}
