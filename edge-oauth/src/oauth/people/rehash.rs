//! Rehashing a password at sign-in when the configured PBKDF2 iteration count has risen.
//!
//! Each record keeps its own count (`pbkdf2-sha256$<iterations>$...`), so raising
//! `PASSWORD_PBKDF2_ITERATIONS` (today capped at workerd's 100 000) does not lock anyone out;
//! a person's record moves to the new count the next time they sign in with the right
//! password, the only moment the server holds it. The update is guarded on the old record,
//! so a password changed meanwhile is never overwritten.

use super::password::{MAX_ITERATIONS, PasswordHash};
use crate::oauth::control::Write as ControlWrite;
use crate::oauth::effects::{AuditEvent, Write, Writes, event};

/// True when a record with `stored` iterations should be rehashed at `configured`.
pub fn due(stored: &PasswordHash, configured: u32) -> bool {
    stored.iterations() < configured.min(MAX_ITERATIONS)
}

/// The writes that replace `old` (what the sign-in verified) with `new` for `user_id`.
pub fn writes(user_id: &str, old: &str, new: &PasswordHash, now: u64) -> Writes {
    Writes::none()
        .with(Write::Control(ControlWrite::PasswordHash {
            user_id: user_id.to_string(),
            old: old.to_string(),
            new: new.encode(),
        }))
        .with(Write::Audit(AuditEvent {
            user_id: Some(user_id.to_string()),
            detail: Some(rehash_detail(new.iterations())),
            ..AuditEvent::new(now, event::PASSWORD_REHASHED)
        }))
}

/// The audit detail: the new iteration count, from a fixed set (details are `&'static str`).
fn rehash_detail(iterations: u32) -> &'static str {
    match iterations {
        0..=9_999 => "below_10000",
        10_000..=49_999 => "10000_or_more",
        50_000..=99_999 => "50000_or_more",
        _ => "100000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::people::password::hash;
    use crate::store::writes as sql;

    #[test]
    fn rehash_when_the_configured_count_rises() {
        let old = hash(b"pw", &[1; 16], 1_000);
        assert!(due(&old, 2_000));
        assert!(!due(&old, 1_000));
        assert!(!due(&old, 500));
        let top = hash(b"pw", &[1; 16], MAX_ITERATIONS);
        assert!(!due(&top, MAX_ITERATIONS + 1), "never past workerd's cap");
    }

    #[test]
    fn the_update_is_guarded_on_the_old_record() {
        let old = hash(b"pw", &[1; 16], 1_000);
        let new = hash(b"pw", &[2; 16], 100_000);
        let b = sql::batch(&writes("u_1", &old.encode(), &new, 5));
        let s = &b.statements[0];
        assert!(
            s.sql.starts_with(
                "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?"
            ),
            "{}",
            s.sql
        );
        assert!(b.statements[1].sql.starts_with("INSERT INTO audit"));
        assert_eq!(rehash_detail(100_000), "100000");
    }
}
