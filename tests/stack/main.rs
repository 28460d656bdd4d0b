//! The local stack end to end, over HTTP, as `scripts/dev` runs it: the emulator, `infra
//! deploy`, `cargo lambda watch`, the local gateway.

mod api;
mod app;
mod backups;
mod fidelity;
mod lambda_api;
mod limits;
mod load;
mod outage;
mod schedule;
mod secrets;
mod shell;
mod slow_clients;
