//! Bound values and statements: SQL text with its values, as the store hands them to the
//! D1 adapter (and to the native SQLite tests).

/// A bound value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// An integer (Unix seconds, lifetimes, counters: below 2^53, exact as a JavaScript
    /// number; the control plane checks its counters against [`MAX_EXACT`]).
    Int(u64),
    /// A real number (a relay's coordinates and load).
    Real(f64),
    /// NULL.
    Null,
}

/// The largest integer D1 (a JavaScript number) holds exactly.
pub const MAX_EXACT: u64 = (1 << 53) - 1;

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
impl From<Option<&str>> for Value {
    fn from(s: Option<&str>) -> Value {
        s.map_or(Value::Null, Value::from)
    }
}
impl From<&Option<String>> for Value {
    fn from(s: &Option<String>) -> Value {
        s.as_deref().into()
    }
}
impl From<Option<u64>> for Value {
    fn from(n: Option<u64>) -> Value {
        n.map_or(Value::Null, Value::Int)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Real(x)
    }
}
impl From<Option<f64>> for Value {
    fn from(x: Option<f64>) -> Value {
        x.map_or(Value::Null, Value::Real)
    }
}
impl From<Option<u32>> for Value {
    fn from(n: Option<u32>) -> Value {
        n.map_or(Value::Null, |n| Value::Int(u64::from(n)))
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

/// A batch: the statements and which one is the claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// In order.
    pub statements: Vec<Statement>,
    /// The index of the claim, whose `RETURNING` row says whether the batch took effect.
    pub claim: Option<usize>,
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
