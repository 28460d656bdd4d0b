//! The functions against the real AWS emulator (moto server): each test starts its own
//! emulator on a free loopback port, and drives the handlers with REST proxy events or runs
//! the real binaries through a Lambda Runtime API.

mod app;
mod backup;
mod binaries;
mod insert;
mod list;
