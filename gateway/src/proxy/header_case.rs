//! The request's header names as the client sent them (`tEsT-HEADeR`), which API Gateway
//! passes to the function.
//!
//! `http::HeaderMap` holds names in lowercase. The server keeps the original case
//! (`preserve_header_case`) in a request extension whose type hyper does not export; the one
//! public reader of it is hyper's own HTTP/1 encoder, which writes a request carrying that
//! extension with the original names. So the head is written once more, to memory, and the
//! names read back from it. Without the extension (another server) every name comes back
//! lowercase, as received.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use http::{Extensions, HeaderMap, Request};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt as _;

/// The longest head read back (hyper's server refuses longer ones before this is reached).
const MAX_HEAD: usize = 512 * 1024;

/// Lowercase name → the name as the client sent it (its first occurrence).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OriginalNames(HashMap<String, String>);

impl OriginalNames {
    /// The name as sent, if known.
    pub fn get(&self, lowercase: &str) -> Option<&str> {
        self.0.get(lowercase).map(String::as_str)
    }

    /// From (lowercase, as sent) pairs, for tests.
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(pairs.iter().map(|(l, s)| ((*l).to_owned(), (*s).to_owned())).collect())
    }

    /// From an HTTP/1 request head: the names of its header lines.
    fn from_head(head: &str) -> Self {
        let mut names = HashMap::new();
        for line in head.split("\r\n").skip(1).take_while(|l| !l.is_empty()) {
            if let Some((name, _)) = line.split_once(':') {
                names.entry(name.to_ascii_lowercase()).or_insert_with(|| name.to_owned());
            }
        }
        Self(names)
    }
}

/// The names of `headers` as sent, from the request's `extensions`; empty when they cannot be
/// read back (every name then stays lowercase).
pub async fn original_names(headers: &HeaderMap, extensions: &Extensions) -> OriginalNames {
    let mut request = Request::new(Body::empty());
    *request.headers_mut() = headers.clone();
    // The framing headers describe a body this request does not have (and are dropped anyway).
    request.headers_mut().remove(http::header::CONTENT_LENGTH);
    request.headers_mut().remove(http::header::TRANSFER_ENCODING);
    *request.extensions_mut() = extensions.clone();
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    let Ok((mut sender, connection)) = hyper::client::conn::http1::handshake(TokioIo::new(client)).await else {
        return OriginalNames::default();
    };
    let writer = tokio::spawn(connection);
    // Queued now; the connection task writes it. Kept until the head is read.
    let _answer = sender.send_request(request);
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(Duration::from_secs(1), async {
        let mut chunk = [0u8; 8192];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match server.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    writer.abort();
    match read {
        Ok(()) => OriginalNames::from_head(&String::from_utf8_lossy(&head)),
        Err(_) => OriginalNames::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_from_a_head() {
        let names =
            OriginalNames::from_head("GET / HTTP/1.1\r\ntEsT-HEADeR: a\r\nX-Two: 1\r\nx-two: 2\r\n\r\nbody: no\r\n");
        assert_eq!(names.get("test-header"), Some("tEsT-HEADeR"));
        assert_eq!(names.get("x-two"), Some("X-Two"));
        assert_eq!(names.get("body"), None);
    }

    #[tokio::test]
    async fn without_the_servers_record_names_stay_lowercase() {
        let mut headers = HeaderMap::new();
        headers.insert("x-custom", "1".parse().unwrap());
        headers.insert("content-length", "5".parse().unwrap());
        let names = original_names(&headers, &Extensions::new()).await;
        assert_eq!(names.get("x-custom"), Some("x-custom"));
    }
}
