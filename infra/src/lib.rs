//! Deploys the student-records system to AWS (or the emulator) with the AWS SDK, checks the
//! API key → usage plan → stage linkage, manages keys, reports usage and tears it all down.
//!
//! The system is declared in the `student-system` crate ([`system::System`]); every command
//! works from that declaration. [`cli`] is the command line: one module per subcommand, each
//! with its options and its `run`, over the work done here.

pub mod cli;
pub mod commands;
pub mod context;
pub mod error;
pub mod policy;
pub mod report;
pub mod resources;
pub mod restore;
pub mod state;
pub mod verify;
