//! `infra` against the real emulator: the binary itself, run as a user runs it.

mod app;
mod audit;
mod deploy;
mod destroy;
mod email_domains;
mod keys;
mod plan;
mod region;
mod restore;
mod schedule;
mod state;
mod verbose;
mod web;
