//! The Lambda proxy integration (payload format 1.0): the event a function receives, and the
//! strict reading of what it answers.

pub mod event;
pub mod header_case;
pub mod headers;
pub mod response;
pub mod trace;

pub use event::{AdmittedKey, RequestFacts, event};
pub use response::{ProxyResponse, read_response};
pub use trace::Trace;
