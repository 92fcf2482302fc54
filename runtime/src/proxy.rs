//! The per-request pipeline: match the route, read the body, plan the attempts, try targets until one commits, stream it back.
//!
//! [`Gateway`] holds everything derived from the plan at startup (parsed
//! upstream origins, `Authorization` values, header values for names, one
//! entry per distinct `(service, model)` target, balancer state, cooldowns),
//! so a request allocates only what it must: the upstream path and, when the
//! model is rewritten, the new body. The client body is `Bytes`, so each
//! attempt shares it.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use tokio::time::{Duration, Instant};

use crate::attempts::{Primary, Refusal, TargetPlan};
use crate::balance::{MetricsBalancer, WeightedPicker};
use crate::body::{BodyError, ResponseBody, full};
use crate::codegen::{
    FailoverPolicy, Method, ModelService, Plan, Protocol, Provider, RouteMatch, Target,
    TimeoutOverrides, WhenAllCooling,
};
use crate::commit::{Deadlines, commit};
use crate::cooldown::CooldownTable;
use crate::failure::{Failure, Timer, retry_after_value};
use crate::headers::{NOT_FORWARDED, request_host, strip_hop_by_hop};
use crate::protocol_error::{self, GatewayError, protocol_for_unmatched_path};
use crate::request_body::{self, ReadError};
use crate::stats::Stats;
use crate::stream_guard::{GuardSettings, StreamGuard};
use crate::upstream::{self, Upstreams};

pub const MODEL_API_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-model-api");
pub const ROUTE_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-route");
pub const SERVICE_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-service");
pub const MODEL_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-model");
pub const ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-attempts");
pub const RULE_HEADER: HeaderName = HeaderName::from_static("x-gatesmith-rule");

/// The plan plus everything derived from it once at startup.
pub struct Gateway {
    plan: &'static Plan,
    upstreams: Upstreams,
    services: Box<[ServiceState]>,
    /// Distinct `(service, model)` targets of all Model APIs.
    targets: Box<[TargetState]>,
    apis: Box<[ApiState]>,
    routes: Box<[RouteState]>,
    cooldowns: CooldownTable,
    stats: Arc<Stats>,
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

struct TargetState {
    target: Target,
    /// `(JSON literal, header value)` of the rewritten model.
    rewrite: Option<(String, HeaderValue)>,
}

struct ApiState {
    name: HeaderValue,
    protocol: Protocol,
    strip_base_path: bool,
    targets: TargetPlan,
    failover: FailoverPolicy,
    timeouts: TimeoutOverrides,
}

struct RouteState {
    model_api: usize,
    route_name: HeaderValue,
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

/// Assigns dense indices to distinct targets while the plan is read.
struct TargetIndex<'p> {
    plan: &'p Plan,
    states: Vec<TargetState>,
}

impl TargetIndex<'_> {
    fn index(&mut self, target: Target, api: &str) -> Result<usize, PlanError> {
        if let Some(index) = self.states.iter().position(|s| s.target == target) {
            return Ok(index);
        }
        if self
            .plan
            .services
            .get(usize::from(target.service))
            .is_none()
        {
            return Err(PlanError(format!(
                "Model API `{api}` names a missing service"
            )));
        }
        let rewrite = match target.model {
            Some(model) => Some((request_body::model_literal(model), header_value(model)?)),
            None => None,
        };
        self.states.push(TargetState { target, rewrite });
        Ok(self.states.len() - 1)
    }
}

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
                _ => Some(parse_origin(service.name, service.base_url)?),
            };
            services.push(ServiceState {
                authorization,
                origin,
                name: header_value(service.name)?,
            });
        }
        let now = Instant::now();
        let mut index = TargetIndex {
            plan,
            states: Vec::new(),
        };
        let mut apis = Vec::with_capacity(plan.model_apis.len());
        for api in plan.model_apis {
            let primary = match &api.model_service {
                ModelService::Single(target) => Primary::Single(index.index(*target, api.name)?),
                ModelService::ByModelName { rules, select } => {
                    let mut indexed = Vec::with_capacity(rules.len());
                    for rule in rules.iter() {
                        indexed.push((
                            index.index(rule.target, api.name)?,
                            header_value(rule.pattern)?,
                        ));
                    }
                    Primary::ByModelName {
                        select: *select,
                        rules: indexed.into_boxed_slice(),
                    }
                }
                ModelService::ByProportion(weighted) => {
                    let mut entries = Vec::with_capacity(weighted.len());
                    for entry in weighted.iter() {
                        entries.push((index.index(entry.target, api.name)?, entry.weight));
                    }
                    Primary::ByProportion(WeightedPicker::new(entries))
                }
                ModelService::ByMetrics(balance) => {
                    let mut targets = Vec::with_capacity(balance.targets.len());
                    for target in balance.targets {
                        targets.push(index.index(*target, api.name)?);
                    }
                    Primary::ByMetrics(MetricsBalancer::new(
                        targets,
                        balance.objective,
                        balance.decay_ms,
                        now,
                    ))
                }
            };
            let mut fallback = Vec::with_capacity(api.fallback.len());
            for target in api.fallback {
                fallback.push(index.index(*target, api.name)?);
            }
            apis.push(ApiState {
                name: header_value(api.name)?,
                protocol: api.protocol,
                strip_base_path: api.strip_base_path,
                targets: TargetPlan {
                    primary,
                    fallback: fallback.into_boxed_slice(),
                },
                failover: api.failover,
                timeouts: api.timeouts,
            });
        }
        let mut routes = Vec::with_capacity(plan.routes.len());
        for route in plan.routes {
            if plan.model_apis.get(usize::from(route.model_api)).is_none() {
                return Err(PlanError(format!(
                    "route `{}` names a missing Model API",
                    route.name
                )));
            }
            routes.push(RouteState {
                model_api: usize::from(route.model_api),
                route_name: header_value(route.name)?,
            });
        }
        let targets = index.states.into_boxed_slice();
        Ok(Gateway {
            plan,
            upstreams: Upstreams::new(plan),
            services: services.into_boxed_slice(),
            cooldowns: CooldownTable::new(targets.len(), now),
            targets,
            apis: apis.into_boxed_slice(),
            routes: routes.into_boxed_slice(),
            stats: Arc::default(),
        })
    }

    pub fn plan(&self) -> &'static Plan {
        self.plan
    }

    /// Outcome counters (truncated responses, cancelled requests, failovers).
    pub fn stats(&self) -> &Stats {
        &self.stats
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
                let mut cancelled = CancelGuard(Some(&self.stats));
                let response = self
                    .forward(parts, body, usize::from(route), usize::from(base_len))
                    .await;
                cancelled.0 = None;
                response
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
        let Some((route_state, api)) = self
            .routes
            .get(route_index)
            .and_then(|route| Some((route, self.apis.get(route.model_api)?)))
        else {
            return protocol_error::response(
                Protocol::OpenAi,
                GatewayError::Internal,
                "unknown route",
            );
        };
        let protocol = api.protocol;
        let fail =
            |error: GatewayError, message: &str| protocol_error::response(protocol, error, message);

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
        let client_model = json.client_model_header(&client_body);
        let model_name = client_model
            .as_ref()
            .and_then(|model| model.to_str().ok())
            .unwrap_or("");

        let started = Instant::now();
        let attempts = loop {
            let now = Instant::now();
            match api.targets.plan(model_name, &self.cooldowns, now) {
                Ok(attempts) => break attempts,
                Err(Refusal::NoModelMatch) => {
                    let mut response = model_not_found(protocol, model_name);
                    insert_route_headers(response.headers_mut(), api, route_state);
                    return response;
                }
                Err(Refusal::AllCooling { soonest }) => {
                    let waited = now.saturating_duration_since(started);
                    match api.failover.when_all_cooling {
                        WhenAllCooling::WaitUpTo { ms }
                            if waited + soonest <= Duration::from_millis(ms) =>
                        {
                            tokio::time::sleep(soonest).await;
                        }
                        _ => {
                            let mut response = all_cooling(protocol, soonest);
                            insert_route_headers(response.headers_mut(), api, route_state);
                            return response;
                        }
                    }
                }
            }
        };

        let path = parts.uri.path();
        let forwarded_path = if api.strip_base_path {
            path.get(base_len..).unwrap_or(path)
        } else {
            path
        };
        let request = RequestShape {
            method: parts.method.clone(),
            uri: &parts.uri,
            forwarded_path,
            stripped: forwarded_path.len() != path.len(),
        };
        let mut headers = parts.headers.clone();
        strip_hop_by_hop(&mut headers);
        for name in NOT_FORWARDED {
            headers.remove(name);
        }
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );

        let budget = (api.failover.budget_ms > 0)
            .then(|| started + Duration::from_millis(api.failover.budget_ms));
        let total = attempts.order.len();
        let mut last_failure = None;
        for (number, &target_index) in attempts.order.iter().enumerate() {
            let is_last = number + 1 == total;
            let Some((target, service, service_state)) =
                self.targets.get(target_index).and_then(|target| {
                    let id = usize::from(target.target.service);
                    Some((target, self.plan.services.get(id)?, self.services.get(id)?))
                })
            else {
                return fail(GatewayError::Internal, "unknown service");
            };
            let (upstream_body, model_header) = match &target.rewrite {
                Some((literal, header)) => {
                    (json.with_model(&client_body, literal), Some(header.clone()))
                }
                None => (client_body.clone(), client_model.clone()),
            };
            let now = Instant::now();
            let effective = |override_ms: Option<u64>, service_ms: u64| {
                let ms = override_ms.unwrap_or(service_ms);
                (ms > 0).then(|| Duration::from_millis(ms))
            };
            let total_timeout = effective(api.timeouts.total_ms, service.timeouts.total_ms);
            let idle_timeout = effective(api.timeouts.idle_ms, service.timeouts.idle_ms);
            let deadlines = Deadlines {
                total: total_timeout.map(|timeout| now + timeout),
                first_packet: effective(
                    api.timeouts.first_packet_ms,
                    service.timeouts.first_packet_ms,
                )
                .map(|timeout| now + timeout),
                budget,
            };
            let mut probe = api.targets.metrics().and_then(|balancer| {
                balancer
                    .slot_of(target_index)
                    .and_then(|slot| balancer.start(slot, now))
            });
            let attempt_headers = if is_last {
                std::mem::take(&mut headers)
            } else {
                headers.clone()
            };
            let head = match self.send(
                target,
                service,
                service_state,
                &request,
                attempt_headers,
                upstream_body,
            ) {
                Ok(head) => head,
                Err(response) => return response,
            };
            let outcome = commit(head, deadlines, json.stream).await;
            let attempts_made = number + 1;
            match outcome {
                Ok(response) => {
                    if json.stream
                        && let Some(probe) = probe.as_mut()
                    {
                        probe.first_content(Instant::now());
                    }
                    let (mut response_parts, body) = response.into_parts();
                    let sse = json.stream
                        && response_parts
                            .headers
                            .get(header::CONTENT_TYPE)
                            .and_then(|value| value.to_str().ok())
                            .is_some_and(|value| value.starts_with("text/event-stream"));
                    let settings = GuardSettings {
                        protocol,
                        sse,
                        idle: idle_timeout,
                        total_deadline: deadlines.total,
                    };
                    let body = StreamGuard::new(body, settings, self.stats.clone(), probe);
                    let headers = &mut response_parts.headers;
                    strip_hop_by_hop(headers);
                    insert_served_headers(
                        headers,
                        api,
                        route_state,
                        &attempts.rule,
                        service_state,
                        model_header,
                        attempts_made,
                    );
                    return Response::from_parts(response_parts, body.boxed());
                }
                Err(failure) => {
                    if let Some(cooldown) = failure.cooldown() {
                        self.cooldowns
                            .extend(target_index, Instant::now(), cooldown);
                    }
                    if failure.blames_the_service()
                        && let Some(probe) = probe.as_mut()
                    {
                        probe.failed(Instant::now());
                    }
                    let budget_spent = budget.is_some_and(|at| Instant::now() >= at);
                    let stop = is_last || budget_spent || !failure.fails_over(&api.failover);
                    let failure = if budget_spent && !is_last {
                        Failure::Timeout(Timer::Budget)
                    } else {
                        failure
                    };
                    last_failure = Some((failure, service_state, model_header, attempts_made));
                    if stop {
                        break;
                    }
                    self.stats.count_failover();
                }
            }
        }
        let Some((failure, service_state, model_header, attempts_made)) = last_failure else {
            return fail(GatewayError::Internal, "no target was tried");
        };
        let mut response = failure.into_response(protocol);
        insert_served_headers(
            response.headers_mut(),
            api,
            route_state,
            &attempts.rule,
            service_state,
            model_header,
            attempts_made,
        );
        response
    }

    /// Starts one upstream request; the future resolves at its response head.
    /// `Err` is an answer for the client (a path that cannot be forwarded).
    fn send(
        &self,
        target: &TargetState,
        service: &'static crate::codegen::Service,
        service_state: &ServiceState,
        request: &RequestShape<'_>,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<
        impl Future<Output = Result<Response<ResponseBody>, Failure>> + use<>,
        Response<ResponseBody>,
    > {
        let protocol_fail = |message: &str| {
            protocol_error::response(Protocol::OpenAi, GatewayError::BadRequestBody, message)
        };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        enum Upstream {
            Http(upstream::UpstreamClient, Request<Full<Bytes>>),
            Mock(&'static crate::codegen::MockSettings, Request<Bytes>),
        }
        let upstream = match &service_state.origin {
            Some(origin) => {
                let Some(client) = self.upstreams.client(target.target.service) else {
                    return Err(protocol_fail("unknown service"));
                };
                let unchanged = (origin.prefix.is_empty() && !request.stripped)
                    .then(|| request.uri.path_and_query().cloned())
                    .flatten();
                let Some(uri) = upstream_uri(
                    origin,
                    unchanged,
                    request.forwarded_path,
                    request.uri.query(),
                ) else {
                    return Err(protocol_fail("the request path cannot be forwarded"));
                };
                if let Some(authorization) = &service_state.authorization {
                    headers.insert(header::AUTHORIZATION, authorization.clone());
                }
                let mut upstream_request = Request::new(Full::new(body));
                *upstream_request.method_mut() = request.method.clone();
                *upstream_request.uri_mut() = uri;
                *upstream_request.headers_mut() = headers;
                Upstream::Http(client.clone(), upstream_request)
            }
            None => {
                let Some(settings) = service.mock.as_ref() else {
                    return Err(protocol_fail("the mock service has no settings"));
                };
                let Some(uri) =
                    path_and_query(request.forwarded_path, request.uri.query()).map(Uri::from)
                else {
                    return Err(protocol_fail("the request path cannot be forwarded"));
                };
                let mut upstream_request = Request::new(body);
                *upstream_request.method_mut() = request.method.clone();
                *upstream_request.uri_mut() = uri;
                *upstream_request.headers_mut() = headers;
                Upstream::Mock(settings, upstream_request)
            }
        };
        Ok(async move {
            match upstream {
                Upstream::Http(client, request) => match client.request(request).await {
                    Ok(response) => Ok(response.map(|body| body.map_err(BodyError::from).boxed())),
                    Err(error) if upstream::is_timeout(&error) => {
                        Err(Failure::Timeout(Timer::Connect))
                    }
                    Err(_) => Err(Failure::Connect),
                },
                Upstream::Mock(settings, request) => {
                    Ok(crate::mock::respond(settings, request).await)
                }
            }
        })
    }
}

/// What every attempt of one request forwards.
struct RequestShape<'r> {
    method: http::Method,
    uri: &'r Uri,
    forwarded_path: &'r str,
    /// The base path was removed, so the client's path cannot be reused.
    stripped: bool,
}

/// Counts a request whose handler was dropped (the client left) before answering.
struct CancelGuard<'s>(Option<&'s Stats>);

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if let Some(stats) = self.0 {
            stats.count_cancelled();
        }
    }
}

fn insert_route_headers(headers: &mut HeaderMap, api: &ApiState, route: &RouteState) {
    headers.insert(MODEL_API_HEADER, api.name.clone());
    headers.insert(ROUTE_HEADER, route.route_name.clone());
}

fn insert_served_headers(
    headers: &mut HeaderMap,
    api: &ApiState,
    route: &RouteState,
    rule: &Option<HeaderValue>,
    service: &ServiceState,
    model: Option<HeaderValue>,
    attempts: usize,
) {
    insert_route_headers(headers, api, route);
    headers.insert(SERVICE_HEADER, service.name.clone());
    match model {
        Some(model) => {
            headers.insert(MODEL_HEADER, model);
        }
        None => {
            headers.remove(MODEL_HEADER);
        }
    }
    headers.insert(ATTEMPTS_HEADER, HeaderValue::from(attempts));
    if let Some(rule) = rule {
        headers.insert(RULE_HEADER, rule.clone());
    }
}

/// 404 for a model no `byModelName` rule matches, in the client protocol's format.
fn model_not_found(protocol: Protocol, model: &str) -> Response<ResponseBody> {
    let message = format!("no model service rule matches the model `{model}`");
    let body = match protocol {
        Protocol::OpenAi => serde_json::json!({
            "error": {"message": message, "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
        }),
        Protocol::Anthropic => serde_json::json!({
            "type": "error", "error": {"type": "not_found_error", "message": message}
        }),
    };
    json_response(StatusCode::NOT_FOUND, body.to_string())
}

/// 503 with `Retry-After` when every target is cooling down.
fn all_cooling(protocol: Protocol, soonest: Duration) -> Response<ResponseBody> {
    let message = "every target of this Model API is cooling down after rate limiting; retry later";
    let body = match protocol {
        Protocol::OpenAi => serde_json::json!({
            "error": {"message": message, "type": "api_error", "param": null, "code": "all_targets_cooling"}
        }),
        Protocol::Anthropic => serde_json::json!({
            "type": "error", "error": {"type": "overloaded_error", "message": message}
        }),
    };
    let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, body.to_string());
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after_value(soonest));
    response
}

fn json_response(status: StatusCode, body: String) -> Response<ResponseBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
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
