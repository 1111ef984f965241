//! The authentication failure throttle on the virtual clock: a burst of wrong passwords
//! locks the (source, username) pair and, beyond a larger burst, the username, so that even
//! the right password is refused (with the same 401 a wrong one gets) until the window
//! passes; other sources, other users and the owner of an existing allocation are unaffected;
//! UDP and TCP count alike.

use std::time::Duration;

use relay_proto::auth::throttle::{AuthThrottle, ThrottleLimits};
use relay_proto::{AuthFailure, Client, Config, Event, Transport};

use super::harness::*;

const WINDOW: Duration = Duration::from_secs(10);

fn limited(per_source: u32, per_user: u32) -> Config {
    let mut cfg = config();
    cfg.auth_throttle = AuthThrottle::new(ThrottleLimits {
        per_source,
        per_user,
        window: WINDOW,
        max_entries: 1024,
    });
    cfg
}

fn tcp(id: u64, a: &str) -> Client {
    Client {
        transport: Transport::Tcp(id),
        addr: addr(a),
    }
}

fn alice(a: &str, password: &str) -> C {
    C::new(a, Creds::LongTerm("alice".into(), password.into()))
}

/// `n` wrong passwords for alice from `client`, each answered 401.
fn guess(h: &mut H, client: Client, n: usize) {
    for _ in 0..n {
        let mut c = alice(&client.addr.to_string(), "wrong");
        assert_eq!(code(&c.allocate_on(h, client)), Some(401));
    }
}

fn throttled(h: &H) -> usize {
    h.events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::AuthFailed {
                    why: AuthFailure::Throttled,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn after_a_burst_the_right_password_is_refused_from_that_source_until_the_window_passes() {
    let mut h = H::with(limited(5, 0));
    let from = tcp(1, "203.0.113.5:1000");
    guess(&mut h, from, 5);
    // The right password, from the guesser's source: the same 401 a wrong one gets.
    let mut right = alice("203.0.113.5:1000", "secret");
    let refused = right.allocate_on(&mut h, from);
    assert_eq!(code(&refused), Some(401));
    assert_eq!(h.server.stats().auth_throttled, 1);
    assert_eq!(throttled(&h), 1);
    // Another source is not affected.
    let mut elsewhere = alice("203.0.113.6:1000", "secret");
    assert!(is_success(
        &elsewhere.allocate_on(&mut h, tcp(2, "203.0.113.6:1000"))
    ));
    // Refusals while locked do not extend the lock: it ends a window after the fifth failure.
    h.advance(WINDOW - Duration::from_secs(1));
    assert_eq!(code(&right.allocate_on(&mut h, from)), Some(401));
    h.advance(Duration::from_secs(1));
    assert!(is_success(&right.allocate_on(&mut h, from)));
}

#[test]
fn the_same_source_over_udp_and_ipv6_neighbours_count_together() {
    let mut h = H::with(limited(4, 0));
    // Two guesses over TCP and two over UDP from two addresses of one /64.
    guess(&mut h, tcp(1, "[2001:db8:1:2::1]:1000"), 2);
    for a in ["[2001:db8:1:2::aa]:1000", "[2001:db8:1:2::bb]:1000"] {
        let mut c = alice(a, "wrong");
        assert_eq!(code(&c.allocate(&mut h, None)), Some(401));
    }
    let mut right = alice("[2001:db8:1:2::cc]:1000", "secret");
    assert_eq!(code(&right.allocate(&mut h, None)), Some(401));
    let mut other_64 = alice("[2001:db8:1:3::1]:1000", "secret");
    assert!(is_success(&other_64.allocate(&mut h, None)));
}

#[test]
fn a_username_guessed_from_many_sources_is_locked_for_everyone_but_its_allocations() {
    let mut h = H::with(limited(0, 6));
    // Alice holds an allocation before the guessing starts.
    let owner_addr = "198.51.100.50:1000";
    let mut owner = alice(owner_addr, "secret");
    assert!(is_success(&owner.allocate(&mut h, None)));
    for i in 0..6 {
        guess(&mut h, tcp(i, &format!("203.0.113.{i}:1000")), 1);
    }
    let mut fresh = alice("192.0.2.99:1000", "secret");
    assert_eq!(code(&fresh.allocate(&mut h, None)), Some(401));
    // Her allocation's own requests still work.
    assert!(is_success(&owner.refresh(&mut h, Some(600))));
    // Bob is not locked.
    let mut bob = C::new(
        "192.0.2.98:1000",
        Creds::LongTerm("bob".into(), "hunter2".into()),
    );
    assert!(is_success(&bob.allocate(&mut h, None)));
    h.advance(WINDOW);
    let mut later = alice("192.0.2.97:1000", "secret");
    assert!(is_success(&later.allocate(&mut h, None)));
}

#[test]
fn token_failures_lock_the_source_but_not_the_key_id_everyone_shares() {
    let mut h = H::with(limited(3, 3));
    let (kid, tok, _) = token(&h, 600, 1);
    for i in 0..3 {
        let mut forged = C::new(
            "203.0.113.5:1000",
            Creds::Token(kid.clone(), tok.clone(), vec![0x55; 20]),
        );
        assert_eq!(
            code(&forged.allocate_on(&mut h, tcp(i, "203.0.113.5:1000"))),
            Some(401)
        );
    }
    let (_, tok2, mac2) = token(&h, 600, 2);
    let creds = Creds::Token(kid, tok2, mac2.secret().to_vec());
    let mut same_source = C::new("203.0.113.5:1000", creds.clone());
    assert_eq!(
        code(&same_source.allocate_on(&mut h, tcp(9, "203.0.113.5:1000"))),
        Some(401)
    );
    let mut other = C::new("203.0.113.6:1000", creds);
    assert!(is_success(&other.allocate(&mut h, None)));
}

#[test]
fn no_limits_no_throttle() {
    let mut h = H::with(limited(0, 0));
    guess(&mut h, tcp(1, "203.0.113.5:1000"), 50);
    let mut right = alice("203.0.113.5:1000", "secret");
    assert!(is_success(
        &right.allocate_on(&mut h, tcp(2, "203.0.113.5:1000"))
    ));
    assert_eq!(throttled(&h), 0);
}
