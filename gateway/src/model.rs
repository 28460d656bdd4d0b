//! The REST API as deployed, in the shape the data plane needs: built from the control plane
//! by [`crate::control`], read by [`crate::api`]. Immutable; replaced whole on refresh.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How a method reaches its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integration {
    /// `AWS_PROXY` to a Lambda function, invoked by name.
    LambdaProxy { function: String },
    /// `MOCK`: the 200 integration response's header mappings (`'value'` literals).
    Mock { headers: Vec<(String, String)> },
    /// Anything else; answered with 500, as a misconfigured integration would be.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRoute {
    pub resource_id: String,
    pub resource_path: String,
    pub api_key_required: bool,
    pub integration: Integration,
}

/// One resource: its path split in segments (`{name}` and `{name+}` match variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRoute {
    pub segments: Vec<String>,
    /// By HTTP method (`ANY` matches every method without its own entry).
    pub methods: HashMap<String, MethodRoute>,
}

/// What one deployment serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    pub resources: Vec<ResourceRoute>,
    /// The API's `binaryMediaTypes` when deployed (they apply on redeployment, as in AWS).
    pub binary_media_types: Vec<String>,
}

/// A matched route: the method and the path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    pub method: &'a MethodRoute,
    pub path_parameters: Vec<(String, String)>,
}

impl RouteTable {
    /// Finds the method for `path` (without the stage), preferring literal segments.
    /// Empty segments (`//`) are skipped, except in what a greedy `{name+}` variable takes.
    pub fn find(&self, http_method: &str, path: &str) -> Option<Matched<'_>> {
        let parts: Vec<&str> = segments(path).collect();
        let mut best: Option<(usize, Matched<'_>)> = None;
        for resource in &self.resources {
            let method = resource.methods.get(http_method).or_else(|| resource.methods.get("ANY"));
            let Some(method) = method else { continue };
            let Some((literals, params)) = match_segments(&resource.segments, &parts, path) else { continue };
            if best.as_ref().is_none_or(|(score, _)| literals > *score) {
                best = Some((literals, Matched { method, path_parameters: params }));
            }
        }
        best.map(|(_, m)| m)
    }
}

/// The non-empty segments of a path.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// What follows the first `n` non-empty segments of `path`, as sent (`a//b/`), without the
/// slashes that separate it from them.
fn rest_after(path: &str, n: usize) -> &str {
    let mut rest = path;
    for _ in 0..n {
        rest = rest.trim_start_matches('/');
        rest = rest.find('/').map_or("", |i| &rest[i..]);
    }
    rest.trim_start_matches('/')
}

fn match_segments(pattern: &[String], parts: &[&str], path: &str) -> Option<(usize, Vec<(String, String)>)> {
    let mut params = Vec::new();
    let mut literals = 0;
    for (i, segment) in pattern.iter().enumerate() {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            if i >= parts.len() {
                return None;
            }
            params.push((name.to_owned(), rest_after(path, i).to_owned()));
            return Some((literals, params));
        }
        let part = parts.get(i)?;
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.push((name.to_owned(), (*part).to_owned()));
        } else if segment == part {
            literals += 1;
        } else {
            return None;
        }
    }
    (pattern.len() == parts.len()).then_some((literals, params))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate_limit: f64,
    pub burst_limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub period: Period,
}

/// A method as throttling names it: `/students/GET` (resource path, `/`, HTTP method).
pub fn method_key(resource_path: &str, http_method: &str) -> String {
    format!("{}/{http_method}", resource_path.trim_end_matches('/'))
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsagePlan {
    pub id: String,
    pub name: String,
    pub throttle: Option<Throttle>,
    pub quota: Option<Quota>,
    /// `(api id, stage)` pairs.
    pub stages: Vec<(String, String)>,
    pub key_ids: HashSet<String>,
    /// Per-client per-method throttles (`apiStages[].throttle`) of this API's stages: stage →
    /// [`method_key`] → limits.
    pub method_throttles: HashMap<String, HashMap<String, Throttle>>,
}

/// A stage's own throttling (`methodSettings`), for all clients together: `*/*` and per
/// method ([`method_key`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageThrottles {
    pub default: Option<Throttle>,
    pub methods: HashMap<String, Throttle>,
}

impl StageThrottles {
    /// The limits for a method, and the bucket they fill: the method's own, else the stage's
    /// default (a bucket per method either way: the settings are per method).
    pub fn for_method(&self, key: &str) -> Option<Throttle> {
        self.methods.get(key).copied().or(self.default)
    }
}

/// Where a gateway response's header value comes from (`responseParameters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    /// `'value'`.
    Literal(String),
    /// `method.request.header.<name>`: the request's header of that name (none: not sent).
    RequestHeader(String),
}

impl From<&str> for HeaderSource {
    fn from(literal: &str) -> Self {
        Self::Literal(literal.to_owned())
    }
}

/// A configured gateway response: status override and `gatewayresponse.header.*` mappings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayResponseConfig {
    pub status: Option<u16>,
    pub headers: Vec<(String, HeaderSource)>,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub api_id: String,
    /// Stage name → (deployment id, what it serves).
    pub stages: HashMap<String, (String, Arc<RouteTable>)>,
    /// Key value → key. Values are secrets: never logged.
    pub keys_by_value: HashMap<String, ApiKey>,
    pub plans: Vec<UsagePlan>,
    /// By gateway response type (`DEFAULT_4XX`, `THROTTLED`, ...).
    pub gateway_responses: HashMap<String, GatewayResponseConfig>,
    /// Stage name → its `methodSettings` throttling.
    pub stage_throttles: HashMap<String, StageThrottles>,
}

impl Snapshot {
    /// The plan that admits `key_id` on this API's `stage`.
    pub fn plan_for(&self, key_id: &str, stage: &str) -> Option<&UsagePlan> {
        self.plans
            .iter()
            .find(|p| p.key_ids.contains(key_id) && p.stages.iter().any(|(a, s)| *a == self.api_id && s == stage))
    }

    pub fn plan(&self, id: &str) -> Option<&UsagePlan> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// The key named `name` among the keys of `plan`, when exactly one is.
    pub fn key_named<'s>(&'s self, plan: &UsagePlan, name: &str) -> Option<&'s ApiKey> {
        let mut found = self.keys_by_value.values().filter(|k| k.name == name && plan.key_ids.contains(&k.id));
        let key = found.next()?;
        found.next().is_none().then_some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(paths: &[&str]) -> RouteTable {
        RouteTable {
            binary_media_types: vec![],
            resources: paths
                .iter()
                .map(|p| ResourceRoute {
                    segments: segments(p).map(str::to_owned).collect(),
                    methods: HashMap::from([(
                        "GET".to_owned(),
                        MethodRoute {
                            resource_id: p.to_string(),
                            resource_path: (*p).to_owned(),
                            api_key_required: true,
                            integration: Integration::Mock { headers: vec![] },
                        },
                    )]),
                })
                .collect(),
        }
    }

    #[test]
    fn literal_paths_win_over_variables_and_greedy_paths_take_the_rest() {
        let t = table(&["/students", "/students/{id}", "/students/me", "/files/{path+}", "/"]);
        // Empty segments are skipped, except by a greedy variable.
        assert_eq!(t.find("GET", "//students").unwrap().method.resource_path, "/students");
        let m = t.find("GET", "/files//a//b/").unwrap();
        assert_eq!(m.path_parameters, [("path".to_owned(), "a//b/".to_owned())]);
        assert_eq!(t.find("GET", "/students").unwrap().method.resource_path, "/students");
        assert_eq!(t.find("GET", "/students/me").unwrap().method.resource_path, "/students/me");
        let m = t.find("GET", "/students/SV1").unwrap();
        assert_eq!(m.method.resource_path, "/students/{id}");
        assert_eq!(m.path_parameters, [("id".to_owned(), "SV1".to_owned())]);
        let m = t.find("GET", "/files/a/b/c").unwrap();
        assert_eq!(m.path_parameters, [("path".to_owned(), "a/b/c".to_owned())]);
        assert_eq!(t.find("GET", "/").unwrap().method.resource_path, "/");
        assert!(t.find("GET", "/nothing").is_none());
        assert!(t.find("POST", "/students").is_none());
        assert!(t.find("GET", "/students/a/b").is_none());
    }
}
