//! The student-records system, declared once as data. Every name, route, limit, environment
//! variable, permission, the backup layout and the student's attributes live here and nowhere
//! else: the functions, `infra`, the local gateway, the tests and the benchmark all read them
//! from this crate. It has no AWS dependency, so reading it costs nothing to build.

pub mod backup;
pub mod env;
pub mod logging;
pub mod mail;
pub mod names;
pub mod outputs;
pub mod student;
mod system;

pub use outputs::{FunctionOutputs, Outputs};
pub use student::Student;
pub use system::{
    CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, DEFAULT_LOG_RETENTION_DAYS, Function, LOG_RETENTION_DAYS, Options,
    Permission, QUOTA, Quota, ROUTES, Resource, Route, RouteDecl, System, THROTTLE, Throttle,
};
