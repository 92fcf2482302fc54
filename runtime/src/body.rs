//! The response body type every part of the runtime produces: a boxed stream of byte frames.
//!
//! Proxied upstream bodies, in-process mock bodies and gateway-made error
//! bodies all become a [`ResponseBody`], so the server has one type to send.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};

/// The body of every response the gateway sends.
pub type ResponseBody = BoxBody<Bytes, BodyError>;

/// Why a body stream ended early (upstream cut, I/O error, timeout, ...).
#[derive(Debug)]
pub struct BodyError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl BodyError {
    /// A body error described by a fixed message.
    pub fn message(message: impl Into<String>) -> BodyError {
        BodyError(message.into().into())
    }

    /// Wraps any error as a body error.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> BodyError {
        BodyError(Box::new(error))
    }
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<hyper::Error> for BodyError {
    fn from(error: hyper::Error) -> BodyError {
        BodyError(Box::new(error))
    }
}

impl From<std::io::Error> for BodyError {
    fn from(error: std::io::Error) -> BodyError {
        BodyError(Box::new(error))
    }
}

impl From<std::convert::Infallible> for BodyError {
    fn from(never: std::convert::Infallible) -> BodyError {
        match never {}
    }
}

/// A body holding exactly these bytes.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into()).map_err(BodyError::from).boxed()
}

/// A body with no bytes.
pub fn empty() -> ResponseBody {
    Empty::<Bytes>::new().map_err(BodyError::from).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_and_empty_bodies_yield_their_bytes() {
        let collected = full("hello").collect().await.map(|c| c.to_bytes());
        assert_eq!(collected.ok(), Some(Bytes::from_static(b"hello")));
        let collected = empty().collect().await.map(|c| c.to_bytes());
        assert_eq!(collected.ok(), Some(Bytes::new()));
    }

    #[test]
    fn body_error_displays_its_message() {
        assert_eq!(
            BodyError::message("upstream cut").to_string(),
            "upstream cut"
        );
    }
}
