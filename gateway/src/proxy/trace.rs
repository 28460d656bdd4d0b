//! `X-Amzn-Trace-Id`, as API Gateway handles it on a Lambda proxy integration: the request's
//! trace is continued (its `Root` kept, a `Parent` of API Gateway's own added) or a new one
//! started, and the same header goes to the function (in the event) and back to the client.

use http::HeaderMap;

pub const HEADER: &str = "X-Amzn-Trace-Id";

/// One request's trace header, `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace(String);

impl Trace {
    /// Continues the trace `headers` carry (a well-formed `Root`), else starts one at `now`.
    pub fn continue_or_start(headers: &HeaderMap, now: time::OffsetDateTime) -> Self {
        let given = headers.get(HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        let field = |name: &str| {
            given.split(';').filter_map(|part| part.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
        };
        let root = field("Root").filter(|r| is_root(r)).map_or_else(|| new_root(now), str::to_owned);
        // Tracing is not enabled on the stage: a request that asked for sampling keeps its
        // decision, any other is not sampled.
        let sampled = if field("Sampled") == Some("1") { "1" } else { "0" };
        let parent = &uuid::Uuid::new_v4().simple().to_string()[..16];
        Self(format!("Root={root};Parent={parent};Sampled={sampled}"))
    }

    /// A given header, for tests.
    #[cfg(test)]
    pub(crate) fn fixed(value: &str) -> Self {
        Self(value.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>`.
fn new_root(now: time::OffsetDateTime) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("1-{:08x}-{}", now.unix_timestamp(), &random[..24])
}

fn is_root(root: &str) -> bool {
    let parts: Vec<&str> = root.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    parts.len() == 3 && parts[0] == "1" && hex(parts[1], 8) && hex(parts[2], 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_root_is_continued_and_a_missing_one_started() {
        let now = time::macros::datetime!(2026-11-30 08:09:10 UTC);
        let mut headers = HeaderMap::new();
        headers.insert("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".parse().unwrap());
        let trace = Trace::continue_or_start(&headers, now);
        let (root, rest) = trace.as_str().split_once(";Parent=").unwrap();
        assert_eq!(root, "Root=1-5759e988-bd862e3fe1be46a994272793");
        assert!(rest.len() == 16 + ";Sampled=1".len() && rest.ends_with(";Sampled=1"), "{rest}");

        let started = Trace::continue_or_start(&HeaderMap::new(), now);
        assert!(started.as_str().starts_with("Root=1-6b0d2f26-"), "{}", started.as_str());
        assert!(started.as_str().ends_with(";Sampled=0"));
        headers.insert("x-amzn-trace-id", "Root=not-a-root".parse().unwrap());
        assert!(!Trace::continue_or_start(&headers, now).as_str().contains("not-a-root"));
    }
}
