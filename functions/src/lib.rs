//! The student-records service: domain, AWS adapters and the three Lambda handlers.
//!
//! Each binary under `functions/<FunctionName>/` only reads its configuration, builds its
//! clients once and hands requests to a handler in [`handlers`].

pub mod api;
pub mod aws;
pub mod backup;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod handoff;
pub mod mail;
pub mod store;
pub mod telemetry;
pub mod trigger;
