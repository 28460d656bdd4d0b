//! The request headers as API Gateway passes them to a function: the standard ones under
//! their canonical names, the hop-by-hop ones (and a few more) dropped, and the
//! `X-Forwarded-*` and `X-Amzn-Trace-Id` headers of its own added.
//!
//! API Gateway passes any other name as the client sent it (`tEsT-HEADeR`), which
//! [`super::header_case`] recovers.

use http::HeaderMap;

use super::header_case::OriginalNames;
use super::trace::{self, Trace};

/// Dropped before the function sees the request (recorded against AWS).
const DROPPED: [&str; 12] = [
    "connection",
    "content-length",
    "content-md5",
    "expect",
    "max-forwards",
    "proxy-authenticate",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
];

/// Passed under these names whatever case the client used (recorded against AWS).
const CANONICAL: [&str; 6] = ["Accept", "Accept-Encoding", "Authorization", "Content-Type", "Host", "User-Agent"];

/// Where the request came from and arrived, for the `X-Forwarded-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Hop<'a> {
    pub client_ip: &'a str,
    /// The gateway's own port (API Gateway's: 443).
    pub port: u16,
}

/// The (name, value) pairs of the event's header maps, in the order received, API Gateway's
/// own last. A value that is not UTF-8 is decoded lossily.
pub fn forwarded(headers: &HeaderMap, sent: &OriginalNames, hop: Hop<'_>, trace: &Trace) -> Vec<(String, String)> {
    let own = ["x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"];
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !DROPPED.contains(&name.as_str()) && !own.contains(&name.as_str()))
        .map(|(name, value)| (as_passed(name.as_str(), sent), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    // A proxy's X-Forwarded-For is extended with the address the request came from.
    let chain: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let forwarded_for =
        if chain.is_empty() { hop.client_ip.to_owned() } else { format!("{}, {}", chain.join(", "), hop.client_ip) };
    pairs.push(("X-Forwarded-For".to_owned(), forwarded_for));
    pairs.push(("X-Forwarded-Port".to_owned(), hop.port.to_string()));
    // Served over plain HTTP on the loopback (API Gateway: https).
    pairs.push(("X-Forwarded-Proto".to_owned(), "http".to_owned()));
    pairs.push((trace::HEADER.to_owned(), trace.as_str().to_owned()));
    pairs
}

/// The canonical name of a standard header, else the name as sent (as received when unknown).
fn as_passed(lowercase: &str, sent: &OriginalNames) -> String {
    let canonical = CANONICAL.iter().find(|c| c.eq_ignore_ascii_case(lowercase));
    canonical.copied().or_else(|| sent.get(lowercase)).unwrap_or(lowercase).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names_are_canonical_hop_by_hop_ones_dropped_and_forwarding_added() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "127.0.0.1:4010"),
            ("user-agent", "test/1.0"),
            ("content-type", "application/json"),
            ("authorization", "Bearer x"),
            ("x-custom", "kept"),
            ("x-mixed", "as sent"),
            ("content-length", "2"),
            ("connection", "keep-alive"),
            ("expect", "100-continue"),
            ("te", "trailers"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-port", "1"),
        ] {
            headers.append(name, value.parse().unwrap());
        }
        let trace = Trace::continue_or_start(&HeaderMap::new(), time::OffsetDateTime::now_utc());
        let sent = OriginalNames::from_pairs(&[("x-mixed", "X-mIxEd"), ("content-type", "CONTENT-TYPE")]);
        let pairs = forwarded(&headers, &sent, Hop { client_ip: "127.0.0.1", port: 4010 }, &trace);
        let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Host",
                "User-Agent",
                "Content-Type",
                "Authorization",
                "x-custom",
                "X-mIxEd",
                "X-Forwarded-For",
                "X-Forwarded-Port",
                "X-Forwarded-Proto",
                "X-Amzn-Trace-Id"
            ]
        );
        let value = |name: &str| pairs.iter().find(|(n, _)| n == name).unwrap().1.as_str();
        assert_eq!(value("X-Forwarded-For"), "10.0.0.1, 127.0.0.1");
        assert_eq!(value("X-Forwarded-Port"), "4010");
        assert_eq!(value("X-Amzn-Trace-Id"), trace.as_str());
    }
}
