//! The per-request pipeline: match the route, read and adapt the body, send it upstream, stream the answer back.
//!
//! [`Gateway`] holds everything derived from the plan at startup (parsed
//! upstream origins, `Authorization` values, header values for names), so a
//! request allocates only what it must: the upstream path and, when the model
//! is rewritten, the new body.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use tokio::time::{Duration, Instant};

use crate::body::{BodyError, ResponseBody};
use crate::codegen::{Method, ModelService, Plan, Protocol, Provider, RouteMatch, Target};
use crate::commit::{AttemptFailure, Deadlines, commit};
use crate::headers::{NOT_FORWARDED, request_host, strip_hop_by_hop};
use crate::protocol_error::{self, GatewayError, protocol_for_unmatched_path};
use crate::request_body::{self, ReadError};
use crate::upstream::{self, Upstreams};

pub const MODEL_API_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-model-api");
pub const ROUTE_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-route");
pub const SERVICE_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-service");
pub const MODEL_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-model");

/// The plan plus everything derived from it once at startup.
pub struct Gateway {
    plan: &'static Plan,
    upstreams: Upstreams,
    services: Box<[ServiceState]>,
    routes: Box<[RouteState]>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("environment", &self.plan.environment)
            .finish_non_exhaustive()
    }
}

struct ServiceState {
    /// `Bearer <key>`, marked sensitive; `None` without a key.
    authorization: Option<HeaderValue>,
    /// Parsed `base_url`; `None` for the in-process mock.
    origin: Option<Origin>,
    name: HeaderValue,
}

struct Origin {
    scheme: Scheme,
    authority: Authority,
    /// Path part of `base_url`, no trailing `/` (often empty).
    prefix: String,
}

struct RouteState {
    target: Target,
    protocol: Protocol,
    /// `(JSON literal, header value)` of the rewritten model.
    rewrite: Option<(String, HeaderValue)>,
    route_name: HeaderValue,
    model_api_name: HeaderValue,
    first_packet_timeout: Option<Duration>,
    strip_base_path: bool,
}

/// A plan that cannot be served (bad `base_url`, a key that is not a valid header, ...).
#[derive(Debug)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

impl Gateway {
    /// Prepares `plan` for serving. `api_keys[i]` is the key of `plan.services[i]`.
    pub fn new(plan: &'static Plan, api_keys: Vec<Option<String>>) -> Result<Gateway, PlanError> {
        let mut services = Vec::with_capacity(plan.services.len());
        for (index, service) in plan.services.iter().enumerate() {
            let key = api_keys.get(index).cloned().flatten();
            let authorization = match key {
                Some(key) if service.provider == Provider::OpenAi => {
                    let mut value = HeaderValue::try_from(format!("Bearer {key}")).map_err(|_| {
                        PlanError(format!(
                            "the API key of service `{}` (from ${}) is not a valid header value",
                            service.name,
                            service.api_key_env.unwrap_or("?")
                        ))
                    })?;
                    value.set_sensitive(true);
                    Some(value)
                }
                _ => None,
            };
            let origin = match service.provider {
                Provider::Mock => None,
                Provider::OpenAi => Some(parse_origin(service.name, service.base_url)?),
            };
            services.push(ServiceState {
                authorization,
                origin,
                name: header_value(service.name)?,
            });
        }
        let mut routes = Vec::with_capacity(plan.routes.len());
        for route in plan.routes {
            let api = plan
                .model_apis
                .get(usize::from(route.model_api))
                .ok_or_else(|| {
                    PlanError(format!("route `{}` names a missing Model API", route.name))
                })?;
            let ModelService::Single(target) = api.model_service;
            if plan.services.get(usize::from(target.service)).is_none() {
                return Err(PlanError(format!(
                    "Model API `{}` names a missing service",
                    api.name
                )));
            }
            let rewrite = match target.model {
                Some(model) => Some((request_body::model_literal(model), header_value(model)?)),
                None => None,
            };
            routes.push(RouteState {
                target,
                protocol: api.protocol,
                rewrite,
                route_name: header_value(route.name)?,
                model_api_name: header_value(api.name)?,
                strip_base_path: api.strip_base_path,
                first_packet_timeout: (api.first_packet_timeout_ms > 0)
                    .then(|| Duration::from_millis(api.first_packet_timeout_ms)),
            });
        }
        Ok(Gateway {
            plan,
            upstreams: Upstreams::new(plan),
            services: services.into_boxed_slice(),
            routes: routes.into_boxed_slice(),
        })
    }

    pub fn plan(&self) -> &'static Plan {
        self.plan
    }

    /// Answers one client request. Never fails: every problem becomes an
    /// error response in the client's protocol.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
    {
        let (parts, body) = request.into_parts();
        let host = request_host(&parts);
        let path = parts.uri.path();
        let method = Method::from_http(&parts.method);
        match (self.plan.match_route)(&host, path, method) {
            RouteMatch::Found { route, base_len } => {
                drop(host);
                self.forward(parts, body, usize::from(route), usize::from(base_len))
                    .await
            }
            RouteMatch::MethodNotAllowed { model_api, allowed } => {
                let mut response = protocol_error::response(
                    self.protocol_of(model_api),
                    GatewayError::MethodNotAllowed,
                    &format!("method {} is not allowed on {path}", parts.method),
                );
                let allow = allowed.names().collect::<Vec<_>>().join(", ");
                if let Ok(allow) = HeaderValue::try_from(allow) {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                response
            }
            RouteMatch::NoRoute { model_api } => protocol_error::response(
                self.protocol_of(model_api),
                GatewayError::NotFound,
                &format!("no route for {path}"),
            ),
            RouteMatch::NotFound => protocol_error::response(
                protocol_for_unmatched_path(path),
                GatewayError::NotFound,
                &format!("no Model API serves {path} on this host"),
            ),
        }
    }

    fn protocol_of(&self, model_api: u16) -> Protocol {
        self.plan
            .model_apis
            .get(usize::from(model_api))
            .map_or(Protocol::OpenAi, |api| api.protocol)
    }

    async fn forward<B>(
        &self,
        parts: Parts,
        body: B,
        route_index: usize,
        base_len: usize,
    ) -> Response<ResponseBody>
    where
        B: Body<Data = Bytes>,
    {
        let Some(route_state) = self.routes.get(route_index) else {
            return protocol_error::response(
                Protocol::OpenAi,
                GatewayError::Internal,
                "unknown route",
            );
        };
        let protocol = route_state.protocol;
        let fail =
            |error: GatewayError, message: &str| protocol_error::response(protocol, error, message);
        let service_index = usize::from(route_state.target.service);
        let (Some(service), Some(service_state)) = (
            self.plan.services.get(service_index),
            self.services.get(service_index),
        ) else {
            return fail(GatewayError::Internal, "unknown service");
        };

        let limit = self.plan.gateway.max_request_bytes;
        let content_length = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        let client_body = match request_body::read_bounded(body, limit, content_length).await {
            Ok(bytes) => bytes,
            Err(ReadError::TooLarge) => {
                return fail(
                    GatewayError::PayloadTooLarge,
                    &format!("the request body is larger than {limit} bytes"),
                );
            }
            Err(ReadError::Broken) => {
                return fail(
                    GatewayError::BadRequestBody,
                    "the request body could not be read",
                );
            }
        };
        let json = match request_body::inspect(&client_body) {
            Ok(json) => json,
            Err(error) => {
                return fail(
                    GatewayError::InvalidBody,
                    &format!("the request body is not a JSON object: {error}"),
                );
            }
        };
        let (upstream_body, model_header) = match &route_state.rewrite {
            Some((literal, header)) => {
                (json.with_model(&client_body, literal), Some(header.clone()))
            }
            None => {
                let header = json.client_model_header(&client_body);
                (client_body, header)
            }
        };

        let path = parts.uri.path();
        let forwarded_path = if route_state.strip_base_path {
            path.get(base_len..).unwrap_or(path)
        } else {
            path
        };
        let query = parts.uri.query();

        let now = Instant::now();
        let deadlines = Deadlines {
            request: (service.timeouts.request_ms > 0)
                .then(|| now + Duration::from_millis(service.timeouts.request_ms)),
            first_packet: route_state
                .first_packet_timeout
                .filter(|_| json.stream)
                .map(|timeout| now + timeout),
        };

        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        for name in NOT_FORWARDED {
            headers.remove(name);
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let method = parts.method;

        let committed = match (&service_state.origin, service.provider) {
            (Some(origin), Provider::OpenAi) => {
                let Some(client) = self.upstreams.client(route_state.target.service) else {
                    return fail(GatewayError::Internal, "unknown service");
                };
                let unchanged = (origin.prefix.is_empty() && forwarded_path.len() == path.len())
                    .then(|| parts.uri.path_and_query().cloned())
                    .flatten();
                let Some(uri) = upstream_uri(origin, unchanged, forwarded_path, query) else {
                    return fail(
                        GatewayError::BadRequestBody,
                        "the request path cannot be forwarded",
                    );
                };
                if let Some(authorization) = &service_state.authorization {
                    headers.insert(header::AUTHORIZATION, authorization.clone());
                }
                headers.insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from(upstream_body.len()),
                );
                let mut request = Request::new(Full::new(upstream_body));
                *request.method_mut() = method;
                *request.uri_mut() = uri;
                *request.headers_mut() = headers;
                let head = async move {
                    match client.request(request).await {
                        Ok(response) => {
                            Ok(response.map(|body| body.map_err(BodyError::from).boxed()))
                        }
                        Err(error) if upstream::is_timeout(&error) => Err(AttemptFailure::Timeout),
                        Err(_) => Err(AttemptFailure::Unavailable),
                    }
                };
                commit(head, deadlines).await
            }
            _ => {
                let Some(settings) = service.mock.as_ref() else {
                    return fail(GatewayError::Internal, "the mock service has no settings");
                };
                let Some(uri) = path_and_query(forwarded_path, query).map(Uri::from) else {
                    return fail(
                        GatewayError::BadRequestBody,
                        "the request path cannot be forwarded",
                    );
                };
                headers.insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from(upstream_body.len()),
                );
                let mut request = Request::new(upstream_body);
                *request.method_mut() = method;
                *request.uri_mut() = uri;
                *request.headers_mut() = headers;
                let head = async move { Ok(crate::mock::respond(settings, request).await) };
                commit(head, deadlines).await
            }
        };
        let mut response = match committed {
            Ok(response) => response,
            Err(failure) => return fail(failure.gateway_error(), failure.message()),
        };
        let headers = response.headers_mut();
        strip_hop_by_hop(headers);
        headers.insert(MODEL_API_HEADER, route_state.model_api_name.clone());
        headers.insert(ROUTE_HEADER, route_state.route_name.clone());
        headers.insert(SERVICE_HEADER, service_state.name.clone());
        if let Some(model) = model_header {
            headers.insert(MODEL_HEADER, model);
        }
        response
    }
}

fn path_and_query(path: &str, query: Option<&str>) -> Option<PathAndQuery> {
    path_and_query_with_prefix("", path, query)
}

fn path_and_query_with_prefix(
    prefix: &str,
    path: &str,
    query: Option<&str>,
) -> Option<PathAndQuery> {
    let mut joined =
        String::with_capacity(prefix.len() + path.len() + query.map_or(0, |q| q.len() + 1) + 1);
    joined.push_str(prefix);
    joined.push_str(path);
    if joined.is_empty() {
        joined.push('/');
    }
    if let Some(query) = query {
        joined.push('?');
        joined.push_str(query);
    }
    PathAndQuery::try_from(joined).ok()
}

/// The upstream URI; `unchanged` is the client's own path and query when
/// nothing is stripped or prefixed, reused without a copy.
fn upstream_uri(
    origin: &Origin,
    unchanged: Option<PathAndQuery>,
    path: &str,
    query: Option<&str>,
) -> Option<Uri> {
    let path_and_query = match unchanged {
        Some(path_and_query) => path_and_query,
        None => path_and_query_with_prefix(&origin.prefix, path, query)?,
    };
    Uri::builder()
        .scheme(origin.scheme.clone())
        .authority(origin.authority.clone())
        .path_and_query(path_and_query)
        .build()
        .ok()
}

fn parse_origin(service: &str, base_url: &str) -> Result<Origin, PlanError> {
    let invalid = || {
        PlanError(format!(
            "service `{service}` has an invalid base URL `{base_url}`"
        ))
    };
    let uri: Uri = base_url.parse().map_err(|_| invalid())?;
    let parts = uri.into_parts();
    let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
        return Err(invalid());
    };
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
        return Err(invalid());
    }
    let prefix = parts
        .path_and_query
        .map(|pq| pq.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    Ok(Origin {
        scheme,
        authority,
        prefix,
    })
}

fn header_value(text: &str) -> Result<HeaderValue, PlanError> {
    HeaderValue::from_str(text)
        .map_err(|_| PlanError(format!("`{text}` cannot be sent as a header value")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_uri_joins_base_prefix_path_and_query() {
        let origin = parse_origin("s", "https://api.example.com/openai/").expect("origin");
        let uri = upstream_uri(&origin, None, "/v1/chat/completions", Some("a=1")).expect("uri");
        assert_eq!(
            uri,
            "https://api.example.com/openai/v1/chat/completions?a=1"
        );
        assert!(parse_origin("s", "ftp://x").is_err());
        assert!(parse_origin("s", "/relative").is_err());
    }
}
