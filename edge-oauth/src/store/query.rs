//! A typed read: SQL text, its bound values, and the row type its columns deserialize into.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use super::value::{Statement, Value};

/// A read whose rows deserialize into `R` (column names = field names).
pub struct Query<R> {
    /// The statement.
    pub statement: Statement,
    row: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Query<R> {
    /// A query.
    pub fn new(sql: impl Into<String>, args: Vec<Value>) -> Query<R> {
        Query {
            statement: Statement::new(sql, args),
            row: PhantomData,
        }
    }

    /// Its SQL.
    pub fn sql(&self) -> &str {
        &self.statement.sql
    }
}

impl<R> Clone for Query<R> {
    fn clone(&self) -> Query<R> {
        Query {
            statement: self.statement.clone(),
            row: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for Query<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("sql", &self.statement.sql)
            .field("args", &self.statement.args.len())
            .finish()
    }
}
