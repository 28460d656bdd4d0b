//! Query strings, decoded as API Gateway decodes them: for the proxy event and for GetUsage.

/// Decodes `application/x-www-form-urlencoded`-style pairs, in order (`+` is a space, a
/// malformed escape stays as written).
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            url_pairs("limit=2&cursor=a%2Bb&q=a+b&flag&limit=3"),
            [
                ("limit".into(), "2".into()),
                ("cursor".into(), "a+b".into()),
                ("q".into(), "a b".into()),
                ("flag".into(), "".into()),
                ("limit".into(), "3".into())
            ]
        );
        assert_eq!(url_pairs("x=%zz%4"), [("x".into(), "%zz%4".into())]);
    }
}
