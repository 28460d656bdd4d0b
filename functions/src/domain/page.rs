//! Addressing one page of the student list: `?limit=N&cursor=...`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// How many students one page holds.
///
/// The default keeps pages small for browsers; the maximum keeps every response far below
/// Lambda's 6 MB limit (a DynamoDB scan page is at most 1 MB of items anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("limit must be a whole number from 1 to {}", PageLimit::MAX)]
pub struct PageLimitError;

impl PageLimit {
    pub const DEFAULT: u16 = 100;
    pub const MAX: u16 = 1000;

    pub fn parse(raw: Option<&str>) -> Result<Self, PageLimitError> {
        let Some(raw) = raw else { return Ok(Self(Self::DEFAULT)) };
        // Digits only: `u16::from_str` would accept a leading '+'.
        if raw.is_empty() || raw.len() > 4 || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PageLimitError);
        }
        match raw.parse::<u16>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(PageLimitError),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

/// An opaque position in the table: the key of the last student of the previous page.
///
/// Encoded as base64url(version ‖ checksum ‖ key). The checksum is not a secret — a cursor
/// only names a position, which any client may ask for — it makes a mistyped, truncated or
/// edited cursor a clear 400 instead of a silently wrong page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    last_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor is not valid: {0}; use the X-Next-Cursor value of the previous page unchanged")]
pub struct CursorError(&'static str);

const CURSOR_VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 8;
/// DynamoDB partition keys are at most 2048 bytes.
const MAX_KEY_BYTES: usize = 2048;

impl PageCursor {
    pub fn after(last_key: impl Into<String>) -> Self {
        Self { last_key: last_key.into() }
    }

    pub fn last_key(&self) -> &str {
        &self.last_key
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(1 + CHECKSUM_LEN + self.last_key.len());
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&checksum(self.last_key.as_bytes()));
        bytes.extend_from_slice(self.last_key.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(raw: &str) -> Result<Self, CursorError> {
        if raw.len() > 4 * MAX_KEY_BYTES {
            return Err(CursorError("too long"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError("not base64url"))?;
        let (version, rest) = bytes.split_first().ok_or(CursorError("empty"))?;
        if *version != CURSOR_VERSION {
            return Err(CursorError("unknown version"));
        }
        if rest.len() <= CHECKSUM_LEN {
            return Err(CursorError("truncated"));
        }
        let (sum, key) = rest.split_at(CHECKSUM_LEN);
        // The checksum is public, so a well-formed cursor may still name a key DynamoDB refuses.
        if key.len() > MAX_KEY_BYTES {
            return Err(CursorError("too long"));
        }
        if sum != checksum(key) {
            return Err(CursorError("checksum does not match"));
        }
        let key = std::str::from_utf8(key).map_err(|_| CursorError("not UTF-8"))?;
        Ok(Self::after(key))
    }
}

fn checksum(key: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new().chain_update(b"student-page-cursor/1\0").chain_update(key).finalize();
    let mut out = [0; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(PageLimit::parse(None).unwrap().get(), 100);
        assert_eq!(PageLimit::parse(Some("1")).unwrap().get(), 1);
        assert_eq!(PageLimit::parse(Some("1000")).unwrap().get(), 1000);
        for bad in ["0", "1001", "", "-1", "+5", "1.5", "abc", "99999999999999999999", " 5"] {
            assert_eq!(PageLimit::parse(Some(bad)), Err(PageLimitError), "{bad:?}");
        }
    }

    #[test]
    fn cursor_round_trips() {
        for key in ["SV001", "a", "x-_9", "ünïcode key"] {
            let c = PageCursor::after(key);
            assert_eq!(PageCursor::decode(&c.encode()).unwrap(), c);
        }
    }

    #[test]
    fn tampered_or_malformed_cursors_are_refused() {
        let good = PageCursor::after("SV001").encode();
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        let edited = URL_SAFE_NO_PAD.encode(&bytes);
        for bad in [edited.as_str(), &good[..good.len() - 2], "", "!!!", "AQ", &"A".repeat(9000)] {
            assert!(PageCursor::decode(bad).is_err(), "{bad:?}");
        }
        bytes[0] = 2;
        assert!(PageCursor::decode(&URL_SAFE_NO_PAD.encode(&bytes)).is_err());
    }
}
