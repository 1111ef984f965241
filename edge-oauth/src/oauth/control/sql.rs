//! Statements as values: SQL text and bound values, made by the decisions and run by the
//! worker, so every row the control plane writes is visible (and tested) here. The types are
//! the server's own ([`crate::store`]): control rows join a request's one batch.

pub use crate::store::{MAX_EXACT, Statement, Value};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    pub(crate) use crate::store::writes::tests::placeholders;

    /// Every statement binds exactly as many values as it has placeholders.
    pub(crate) fn well_formed(stmts: &[Statement]) {
        for s in stmts {
            assert_eq!(placeholders(s), s.args.len(), "{}", s.sql);
        }
    }

    #[test]
    fn values() {
        assert_eq!(Value::from(Some("a")), Value::Text("a".into()));
        assert_eq!(Value::from(None::<u64>), Value::Null);
        assert_eq!(
            placeholders(&Statement::new("?1 ?2 ?1 ?", vec![])),
            3,
            "two numbered, one plain"
        );
        assert_eq!(
            placeholders(&Statement::new("?10 ?1 ?", vec![])),
            3,
            "numbers of two digits"
        );
    }
}
