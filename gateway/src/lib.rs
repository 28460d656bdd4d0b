//! A local API Gateway for the REST API as deployed in the emulator's control plane: it
//! enforces API keys, usage-plan throttling and quotas, answers CORS preflights from MOCK
//! integrations, and invokes the functions through the Lambda Invoke API (cargo lambda watch)
//! with the REST proxy event — so a deploy that forgets a link fails locally as in AWS. It also
//! answers the functions' own Lambda Invoke API calls as Lambda does (an `Event` invocation
//! runs in the background) and runs the EventBridge rules' schedules.

pub mod api;
pub mod connections;
pub mod control;
pub mod lambda;
pub mod limits;
pub mod model;
pub mod proxy;
pub mod query;
pub mod responses;
pub mod schedule;
pub mod server;
pub mod usage;
