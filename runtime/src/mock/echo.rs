//! `x-mock-echo-headers: true`: reports which request headers reached the mock, never their values.
//!
//! Tests use it to check credential injection through a gateway. The
//! `authorization` value is reduced to its scheme so a key never leaves.

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// Sorted, de-duplicated request header names, comma-separated.
pub const RECEIVED_HEADERS: HeaderName = HeaderName::from_static("x-mock-received-headers");
/// `absent`, or `present; scheme=<Scheme>` (`none` when the value has no scheme).
pub const AUTHORIZATION_SEEN: HeaderName = HeaderName::from_static("x-mock-authorization");

/// Adds the report headers describing `request` to `response`.
pub fn add_report(request: &HeaderMap, response: &mut HeaderMap) {
    let mut names: Vec<&str> = request.keys().map(HeaderName::as_str).collect();
    names.sort_unstable();
    names.dedup();
    if let Ok(value) = HeaderValue::from_str(&names.join(",")) {
        response.insert(RECEIVED_HEADERS, value);
    }
    response.insert(
        AUTHORIZATION_SEEN,
        authorization_summary(request.get(header::AUTHORIZATION)),
    );
}

fn authorization_summary(value: Option<&HeaderValue>) -> HeaderValue {
    let Some(value) = value else {
        return HeaderValue::from_static("absent");
    };
    let text = value.to_str().unwrap_or_default().trim();
    let scheme = match text.split_once(' ') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme.len() <= 32
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            scheme
        }
        Some(_) => "other",
        None => "none",
    };
    HeaderValue::from_str(&format!("present; scheme={scheme}"))
        .unwrap_or(HeaderValue::from_static("present"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut request = HeaderMap::new();
        for (name, value) in pairs {
            request.append(*name, HeaderValue::from_static(value));
        }
        let mut response = HeaderMap::new();
        add_report(&request, &mut response);
        response
    }

    #[test]
    fn reports_names_and_scheme_but_never_the_key() {
        let response = report(&[
            ("authorization", "Bearer sk-secret-123"),
            ("content-type", "application/json"),
            ("accept", "a"),
            ("accept", "b"),
        ]);
        assert_eq!(
            response[&RECEIVED_HEADERS],
            "accept,authorization,content-type"
        );
        assert_eq!(response[&AUTHORIZATION_SEEN], "present; scheme=Bearer");
        assert!(
            response
                .values()
                .all(|v| !v.to_str().unwrap_or_default().contains("sk-secret"))
        );
    }

    #[test]
    fn absent_and_schemeless_authorization() {
        assert_eq!(report(&[])[&AUTHORIZATION_SEEN], "absent");
        assert_eq!(
            report(&[("authorization", "sk-raw")])[&AUTHORIZATION_SEEN],
            "present; scheme=none"
        );
        assert_eq!(
            report(&[("authorization", "B@d x")])[&AUTHORIZATION_SEEN],
            "present; scheme=other"
        );
    }
}
