//! The storage boundary: every SQL statement the edge runs on D1, in plain Rust (native and
//! wasm), so it can be executed natively against SQLite (`tests/store_sqlite.rs`).
//!
//! - [`reads`]: every read as a typed [`Query`], next to the row struct it deserializes into;
//! - [`writes`]: a decision's [`crate::oauth::effects::Writes`] (OAuth's and the control
//!   plane's rows, their claim and its guard) as one batch of statements;
//! - [`control`]: the relays' revocation feed and housekeeping;
//! - [`console`]: the operator console's rows, queries and statements;
//! - [`value`]: statements and bound values.
//!
//! The worker's one D1 adapter (`worker/store.rs`) runs these and knows no SQL of its own.

pub mod console;
pub mod control;
pub mod query;
pub mod reads;
pub mod value;
pub mod writes;

pub use query::Query;
pub use value::{Batch, MAX_EXACT, Statement, Value};
