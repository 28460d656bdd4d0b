//! `infra` against the real emulator: the binary itself, run as a user runs it.

mod app;
mod deploy;
mod keys;
mod restore;
mod verbose;
mod web;
