//! Statements as values: SQL text and bound values, made by the decisions and run by the
//! worker, so every row the control plane writes is visible (and tested) here.

/// A bound value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// An integer (seconds, counters): below 2^53, exact as a JavaScript number.
    Int(u64),
    /// A real number (coordinates, load).
    Real(f64),
    /// NULL.
    Null,
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Text(s.clone())
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(n)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Real(x)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// One statement and its values (positional `?` or numbered `?N`).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// SQL.
    pub sql: String,
    /// Values, in order.
    pub args: Vec<Value>,
}

impl Statement {
    /// A statement.
    pub fn new(sql: impl Into<String>, args: Vec<Value>) -> Statement {
        Statement {
            sql: sql.into(),
            args,
        }
    }
}

/// The largest integer D1 (a JavaScript number) holds exactly.
pub const MAX_EXACT: u64 = (1 << 53) - 1;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// How many values a statement takes: its plain `?`s plus its distinct numbered `?N`s.
    pub(crate) fn placeholders(s: &Statement) -> usize {
        let b = s.sql.as_bytes();
        let mut numbered = std::collections::BTreeSet::new();
        let mut plain = 0;
        let mut i = 0;
        while let Some(c) = b.get(i) {
            if *c == b'?' {
                let digits: Vec<u8> = b[i + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .copied()
                    .collect();
                if digits.is_empty() {
                    plain += 1;
                } else {
                    numbered.insert(digits.clone());
                    i += digits.len();
                }
            }
            i += 1;
        }
        plain + numbered.len()
    }

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
    }
}
