//! Where client records come from besides the clients table.

pub mod metadata_document;
