//! Per-account limits: the allocation quota and the bandwidth cap count on the account a
//! credential is charged to (a token's sealed account key, a REST userid, a static user), so
//! minting more credentials does not multiply them.

use std::time::Duration;

use relay_proto::{Account, Event, QuotaCounts, Rate, TurnError};
use shared_token::{AccountKey, BrowserCredential, MacKeyProfile};

use super::harness::*;

const PEER: &str = "127.0.0.1:40000";
const CH: u16 = 0x4001;

fn key(id: &str) -> AccountKey {
    AccountKey::derive(b"issuer secret", "user", id)
}

/// A client holding a fresh RFC 7635 token of `account`.
fn oauth(h: &H, a: &str, random: u8, account: Option<AccountKey>) -> C {
    let (kid, tok, mac) = token_for(h, 600, random, MacKeyProfile::Sha1Coturn, account);
    C::new(a, Creds::Token(kid, tok, mac.secret().to_vec()))
}

/// A client holding a fresh browser credential of `account`.
fn browser(h: &H, a: &str, random: u8, account: Option<AccountKey>) -> C {
    let (kid, tok, mac) = token_for(h, 600, random, MacKeyProfile::Sha1Coturn, account);
    let cred = BrowserCredential::new(&kid, &tok, &mac).unwrap();
    C::new(a, Creds::LongTerm(cred.username, cred.credential))
}

fn quota_one() -> H {
    H::with_quota(config(), QuotaCounts::new(0, 1))
}

#[test]
fn two_tokens_of_one_account_share_its_allocation_quota() {
    let mut h = quota_one();
    let mut first = oauth(&h, "203.0.113.1:1000", 1, Some(key("42")));
    assert!(is_success(&first.allocate(&mut h, None)));
    // A second token of the same person, minted separately, as RFC 7635 or as a browser
    // credential: refused with 486.
    let mut second = oauth(&h, "203.0.113.2:1000", 2, Some(key("42")));
    assert_eq!(code(&second.allocate(&mut h, None)), Some(486));
    let mut third = browser(&h, "203.0.113.3:1000", 3, Some(key("42")));
    assert_eq!(code(&third.allocate(&mut h, None)), Some(486));
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Refused { error: TurnError::AllocationQuotaReached, account: Some(Account::Key(k)), .. }
            if *k == key("42")
    )));
    // Another person still allocates.
    let mut other = browser(&h, "203.0.113.4:1000", 4, Some(key("7")));
    assert!(is_success(&other.allocate(&mut h, None)));
    // The first allocation ending gives the account its allocation back.
    assert!(is_success(&first.refresh(&mut h, Some(0))));
    let mut again = oauth(&h, "203.0.113.5:1000", 5, Some(key("42")));
    assert!(is_success(&again.allocate(&mut h, None)));
}

#[test]
fn tokens_without_an_account_are_each_their_own() {
    let mut h = quota_one();
    let mut a = oauth(&h, "203.0.113.1:1000", 1, None);
    let mut b = oauth(&h, "203.0.113.2:1000", 2, None);
    assert!(is_success(&a.allocate(&mut h, None)));
    assert!(is_success(&b.allocate(&mut h, None)));
    let accounts: Vec<Account> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::AllocationCreated { info, .. } => Some(info.account.clone()),
            _ => None,
        })
        .collect();
    assert!(matches!(accounts.as_slice(), [Account::Token(x), Account::Token(y)] if x != y));
}

#[test]
fn rest_credentials_are_charged_to_their_userid_whatever_the_expiry() {
    let mut h = quota_one();
    let secret = shared_token::RestSecret::new(*b"rest");
    let cred = |expiry: u64| shared_token::rest::mint(&secret, "carol", expiry);
    let (c1, c2) = (cred(h.unix() + 300), cred(h.unix() + 400));
    assert_ne!(c1.username, c2.username);
    let mut a = C::new(
        "203.0.113.1:1000",
        Creds::LongTerm(c1.username, c1.password),
    );
    let mut b = C::new(
        "203.0.113.2:1000",
        Creds::LongTerm(c2.username, c2.password),
    );
    assert!(is_success(&a.allocate(&mut h, None)));
    assert_eq!(code(&b.allocate(&mut h, None)), Some(486));
    // A static user of the same name is another account.
    let mut s = C::new(
        "203.0.113.3:1000",
        Creds::LongTerm("alice".into(), "secret".into()),
    );
    assert!(is_success(&s.allocate(&mut h, None)));
}

#[test]
fn an_accounts_bandwidth_cap_spans_all_its_tokens() {
    let mut cfg = config();
    cfg.bandwidth.per_user = Rate::new(200_000);
    let mut h = H::with(cfg);
    let mut clients = [
        oauth(&h, "203.0.113.1:1000", 1, Some(key("42"))),
        browser(&h, "203.0.113.2:1000", 2, Some(key("42"))),
        oauth(&h, "203.0.113.3:1000", 3, Some(key("7"))),
    ];
    for c in &mut clients {
        assert!(is_success(&c.allocate(&mut h, Some(3600))));
        assert!(is_success(&c.bind(&mut h, CH, addr(PEER))));
    }
    let mut up = [0u64; 3];
    for _ in 0..2000 {
        for (c, (total, size)) in clients.iter().zip(up.iter_mut().zip([300, 300, 100])) {
            if h.send(c.addr, &channel_data(CH, &vec![7u8; size]))
                .0
                .is_some()
            {
                *total += size as u64;
            }
        }
        h.advance(Duration::from_millis(1));
    }
    // Account 42 offers 600 kB/s over two tokens; its cap is 200 kB/s (plus the bucket).
    let want = 2 * 200_000 + 100_000;
    let got = up[0] + up[1];
    assert!(
        got.abs_diff(want) * 100 <= want,
        "account 42 relayed {got}, expected {want}"
    );
    assert_eq!(up[2], 100 * 2000, "account 7, under its cap, loses nothing");
    assert!(h.server.stats().dropped_user_cap.to_peer.packets > 0);
}
