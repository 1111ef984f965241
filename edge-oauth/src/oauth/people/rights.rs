//! Per-user access rights: named rights an admin grants a person, carried in access tokens
//! (the `rights` claim) when the client asked for a scope that covers them.
//!
//! A right is named `SCOPE:NAME` (`api:write`, `turn:priority`): the scope before the colon is
//! the one that covers it. A token carries exactly the user's rights whose scope it was granted,
//! so an app that asked only for `openid` never learns what the person may do in `api`, and a
//! resource server checks a right with the scope that guards it.

use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;

/// Most rights per user.
pub const MAX_RIGHTS: usize = 32;

/// True for `SCOPE:NAME`, each part 1 to 64 of `[a-z0-9._-]`.
pub fn is_valid(right: &str) -> bool {
    let part = |p: &str| {
        (1..=64).contains(&p.len())
            && p.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
    };
    right
        .split_once(':')
        .is_some_and(|(s, n)| part(s) && part(n))
}

/// Checks a list from the admin API; returns it sorted, without duplicates, space-separated
/// (as stored).
pub fn normalise(list: &[String]) -> Result<String, OAuthError> {
    if list.len() > MAX_RIGHTS {
        return Err(OAuthError::invalid_request("a user has at most 32 rights"));
    }
    if let Some(_bad) = list.iter().find(|r| !is_valid(r)) {
        return Err(OAuthError::invalid_request(
            "rights are named SCOPE:NAME, each part 1 to 64 of a-z 0-9 . _ -",
        ));
    }
    let mut v: Vec<&str> = list.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    Ok(v.join(" "))
}

/// The stored rights (space-separated) that `scope` covers, in order.
pub fn covered(stored: &str, scope: &Scope) -> Vec<String> {
    stored
        .split(' ')
        .filter(|r| r.split_once(':').is_some_and(|(s, _)| scope.contains(s)))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_coverage() {
        assert!(is_valid("api:write") && is_valid("turn:priority-1"));
        for bad in [
            "api",
            "api:",
            ":x",
            "API:write",
            "a b:c",
            "api:wr ite",
            "a:b:c",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
        let stored = normalise(&[
            "turn:priority".into(),
            "api:write".into(),
            "api:write".into(),
        ])
        .unwrap();
        assert_eq!(stored, "api:write turn:priority");
        let s = Scope::parse("openid api").unwrap();
        assert_eq!(covered(&stored, &s), ["api:write"]);
        assert!(covered(&stored, &Scope::parse("openid").unwrap()).is_empty());
        assert!(covered("", &s).is_empty());
        assert!(normalise(&["Bad".into()]).is_err());
        assert!(normalise(&vec!["a:b".to_string(); 33]).is_err());
    }
}
