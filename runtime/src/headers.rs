//! Header rules at the proxy boundary: which headers cross it, and which host a request is for.

use std::borrow::Cow;

use http::header::{self, HeaderMap, HeaderName};
use http::request::Parts;

/// Headers that describe one hop and never cross the proxy, in either direction.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Client headers that are replaced, not forwarded: the upstream gets the
/// gateway's credentials and a freshly computed length.
pub const NOT_FORWARDED: [HeaderName; 5] = [
    header::HOST,
    header::CONTENT_LENGTH,
    header::AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("api-key"),
];

/// The host a request is addressed to: URI authority (HTTP/2, absolute
/// form) or `Host` header, port removed, lower-cased.
pub fn request_host(parts: &Parts) -> Cow<'_, str> {
    let raw = match parts.uri.authority() {
        Some(authority) => authority.host(),
        None => parts
            .headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .map_or("", strip_port),
    };
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(raw.to_ascii_lowercase())
    } else {
        Cow::Borrowed(raw)
    }
}

/// `example.com:8080` -> `example.com`; `[::1]:80` -> `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(colon)
            if !host.ends_with(']') && host[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..colon]
        }
        _ => host,
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if let Some(connection) = headers.get(header::CONNECTION)
        && let Ok(listed) = connection.to_str()
    {
        let listed: Vec<HeaderName> = listed
            .split(',')
            .filter_map(|name| HeaderName::try_from(name.trim()).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    // Every other `proxy-*` header is hop-by-hop too; they are rare, so only
    // scan when one might be present.
    if headers.keys_len() > 0
        && headers
            .keys()
            .any(|name| name.as_str().starts_with("proxy-"))
    {
        let proxy: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("proxy-"))
            .cloned()
            .collect();
        for name in proxy {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderValue, Request};

    use super::*;

    #[test]
    fn ports_are_removed_from_hosts() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }

    #[test]
    fn host_comes_from_header_lower_cased() {
        let request = Request::builder()
            .uri("/v1/chat/completions")
            .header(header::HOST, "API.Example.COM:443")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        assert_eq!(request_host(&parts), "api.example.com");
    }

    #[test]
    fn host_comes_from_authority_for_http2() {
        let request = Request::builder()
            .uri("http://h2.example.com:8080/v1/chat/completions")
            .body(())
            .expect("request");
        let (parts, ()) = request.into_parts();
        assert_eq!(request_host(&parts), "h2.example.com");
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("proxy-foo", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key(header::CONTENT_TYPE));
    }
}
