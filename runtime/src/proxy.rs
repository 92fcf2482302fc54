//! The per-request pipeline: match the route, read the body, plan the attempts, try targets until one commits, stream it back.
//!
//! [`Gateway`] holds everything derived from the plan at startup (parsed
//! upstream origins, `Authorization` values, header values for names, one
//! entry per distinct `(service, model)` target, balancer state, cooldowns),
//! so a request allocates only what it must: the upstream path and, when the
//! model is rewritten, the new body. The client body is `Bytes`, so each
//! attempt shares it.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use tokio::time::{Duration, Instant};

use crate::adapt::{ClientRequest, ServiceAdapter, client_format};
use crate::attempts::{Primary, Refusal, TargetPlan};
use crate::balance::{MetricsBalancer, WeightedPicker};
use crate::body::{BodyError, ResponseBody, full};
use crate::codegen::{
    FailoverPolicy, Method, ModelService, Plan, Protocol, Provider, RouteKind, RouteMatch, Target,
    TimeoutOverrides, WhenAllCooling,
};
use crate::commit::{Deadlines, commit};
use crate::convert::WireFormat;
use crate::cooldown::CooldownTable;
use crate::failure::{Failure, Timer, retry_after_value};
use crate::headers::{NOT_FORWARDED, request_host, strip_hop_by_hop};
use crate::protocol_error::{self, GatewayError, protocol_for_unmatched_path};
use crate::request_body::{self, ReadError};
use crate::respond::{AdaptedBody, StreamOutcome, convert_json};
use crate::stats::Stats;
use crate::stream_guard::{GuardSettings, StreamGuard};
use crate::upstream::{self, Upstreams};
use crate::usage::Usage;
use crate::usage_sink::{UsageRecord, UsageSinks, UsageTicket};

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
    usage: Arc<UsageSinks>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("environment", &self.plan.environment)
            .finish_non_exhaustive()
    }
}

struct ServiceState {
    /// Provider kind, prepared key and settings: builds each attempt's request.
    adapter: ServiceAdapter,
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
    name_text: &'static str,
    protocol: Protocol,
    /// `false`: the client's base path is kept in front of the provider's path upstream.
    strip_base_path: bool,
    targets: TargetPlan,
    failover: FailoverPolicy,
    timeouts: TimeoutOverrides,
}

struct RouteState {
    model_api: usize,
    route_name: HeaderValue,
    name_text: &'static str,
    kind: RouteKind,
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
            let adapter = ServiceAdapter::new(service, key.as_deref()).map_err(PlanError)?;
            let origin = match service.provider {
                Provider::Mock => None,
                _ => Some(parse_origin(service.name, service.base_url)?),
            };
            services.push(ServiceState {
                adapter,
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
                name_text: api.name,
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
                name_text: route.name,
                kind: route.kind,
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
            usage: Arc::new(UsageSinks::from_env()),
        })
    }

    pub fn plan(&self) -> &'static Plan {
        self.plan
    }

    /// Outcome counters (truncated responses, cancelled requests, failovers).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Where the one usage record per proxied request goes: running totals,
    /// the `GATESMITH_USAGE_LOG=stderr` line, and an extra sink
    /// ([`UsageSinks::set_extra`]) for metrics, logs and rate limits.
    pub fn usage(&self) -> &UsageSinks {
        &self.usage
    }

    /// The usage ticket of one request (its service and model are set per attempt).
    fn usage_ticket(
        &self,
        api: &ApiState,
        route: &RouteState,
        model: &str,
        streamed: bool,
    ) -> UsageTicket {
        UsageTicket::new(
            self.usage.clone(),
            UsageRecord {
                malformed_events: 0,
                model_api: api.name_text,
                route: route.name_text,
                service: "",
                model: model.to_owned(),
                streamed,
                truncated: false,
                cancelled: false,
                reported: false,
                usage: Usage::default(),
            },
        )
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

        let mut headers = parts.headers.clone();
        strip_hop_by_hop(&mut headers);
        for name in NOT_FORWARDED {
            headers.remove(name);
        }
        // Gzip would hide the events from the framer, meter and converters.
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        // Kept base path (`stripBasePath: false`), between the service's own prefix and the provider's path.
        let kept_base = if api.strip_base_path {
            ""
        } else {
            parts.uri.path().get(..base_len).unwrap_or("")
        };
        let client_request = ClientRequest {
            protocol,
            route_kind: route_state.kind,
            body: &client_body,
            json: &json,
            model: client_model.as_ref().and_then(|model| model.to_str().ok()),
            query: parts.uri.query(),
        };

        // Sent exactly once: with the committed body, with the final error,
        // or on drop as cancelled when the client leaves before either.
        let mut ticket = Some(self.usage_ticket(
            api,
            route_state,
            client_request.model.unwrap_or(""),
            json.stream,
        ));
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
            let model_header = match &target.rewrite {
                Some((_, header)) => Some(header.clone()),
                None => client_model.clone(),
            };
            let mut attempt_headers = if is_last {
                std::mem::take(&mut headers)
            } else {
                headers.clone()
            };
            let rewrite = target
                .target
                .model
                .zip(target.rewrite.as_ref().map(|(literal, _)| literal.as_str()));
            let prefix = match &service_state.origin {
                Some(origin) if !origin.prefix.is_empty() => {
                    Cow::Owned(format!("{}{kept_base}", origin.prefix))
                }
                _ => Cow::Borrowed(kept_base),
            };
            let upstream_request = match service_state.adapter.request(
                &client_request,
                &prefix,
                rewrite,
                &mut attempt_headers,
            ) {
                Ok(upstream_request) => upstream_request,
                Err(refused) => {
                    if let Some(mut ticket) = ticket.take() {
                        let model = client_request.model.unwrap_or("");
                        ticket.retarget(service.name, target.target.model.unwrap_or(model));
                        ticket.send(Usage::default(), false, false);
                    }
                    let mut response = json_response(
                        StatusCode::from_u16(refused.status).unwrap_or(StatusCode::BAD_REQUEST),
                        refused.body,
                    );
                    insert_served_headers(
                        response.headers_mut(),
                        api,
                        route_state,
                        &attempts.rule,
                        service_state,
                        model_header,
                        number + 1,
                    );
                    return response;
                }
            };
            let shape = upstream_request.shape;
            if let Some(ticket) = ticket.as_mut() {
                ticket.retarget(service.name, &shape.model);
            }
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
            let head = match self.send(
                target,
                service,
                service_state,
                &parts.method,
                &upstream_request.path_and_query,
                attempt_headers,
                upstream_request.body,
            ) {
                Ok(head) => head,
                Err(message) => return fail(GatewayError::BadRequestBody, message),
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
                    let ticket = match ticket.take() {
                        Some(ticket) => ticket,
                        None => self.usage_ticket(api, route_state, &shape.model, json.stream),
                    };
                    let sse = json.stream
                        && response
                            .headers()
                            .get(header::CONTENT_TYPE)
                            .and_then(|value| value.to_str().ok())
                            .is_some_and(|value| value.starts_with("text/event-stream"));
                    let stream_outcome = Arc::new(StreamOutcome::default());
                    let (mut response_parts, body) = if !sse && shape.conversion_needed() {
                        convert_json(response, &shape, ticket, deadlines.total)
                            .await
                            .into_parts()
                    } else {
                        let (mut response_parts, body) = response.into_parts();
                        if AdaptedBody::rewrites(&shape, sse) {
                            response_parts.headers.remove(header::CONTENT_LENGTH);
                        }
                        let body =
                            AdaptedBody::new(body, &shape, sse, ticket, stream_outcome.clone());
                        (response_parts, body.boxed())
                    };
                    let settings = GuardSettings {
                        protocol,
                        sse,
                        idle: idle_timeout,
                        total_deadline: deadlines.total,
                    };
                    let body = StreamGuard::new(body, settings, self.stats.clone(), probe)
                        .with_outcome(stream_outcome);
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
                    last_failure =
                        Some((failure, service_state, model_header, attempts_made, shape));
                    if stop {
                        break;
                    }
                    self.stats.count_failover();
                }
            }
        }
        let Some((failure, service_state, model_header, attempts_made, shape)) = last_failure
        else {
            return fail(GatewayError::Internal, "no target was tried");
        };
        if let Some(ticket) = ticket.take() {
            ticket.send(Usage::default(), false, false);
        }
        let mut response = match failure {
            // Only the error the client finally gets is rewritten into its protocol.
            Failure::Status(error) if shape.upstream != client_format(protocol) => {
                converted_error_response(protocol, shape.upstream, error)
            }
            failure => failure.into_response(protocol),
        };
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
    /// `Err` says why the request cannot be formed at all (answered with a 400).
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        target: &TargetState,
        service: &'static crate::codegen::Service,
        service_state: &ServiceState,
        method: &http::Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<impl Future<Output = Result<Response<ResponseBody>, Failure>> + use<>, &'static str>
    {
        let protocol_fail = |message: &'static str| message;
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        // Lives in the attempt's future for one await only; its size does not matter.
        #[allow(clippy::large_enum_variant)]
        enum Upstream {
            Http(upstream::UpstreamClient, Request<Full<Bytes>>),
            Mock(&'static crate::codegen::MockSettings, Request<Bytes>),
        }
        let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
            return Err(protocol_fail("the upstream path cannot be formed"));
        };
        let upstream = match &service_state.origin {
            Some(origin) => {
                let Some(client) = self.upstreams.client(target.target.service) else {
                    return Err(protocol_fail("unknown service"));
                };
                let Some(uri) = upstream_uri(origin, path_and_query) else {
                    return Err(protocol_fail("the request path cannot be forwarded"));
                };
                let mut upstream_request = Request::new(Full::new(body));
                *upstream_request.method_mut() = method.clone();
                *upstream_request.uri_mut() = uri;
                *upstream_request.headers_mut() = headers;
                Upstream::Http(client.clone(), upstream_request)
            }
            None => {
                let Some(settings) = service.mock.as_ref() else {
                    return Err(protocol_fail("the mock service has no settings"));
                };
                // The in-process mock answers by path, like the real providers.
                let mut upstream_request = Request::new(body);
                *upstream_request.method_mut() = method.clone();
                *upstream_request.uri_mut() = Uri::from(path_and_query);
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

/// The upstream's error answer, rewritten into the client's protocol (status and envelope).
fn converted_error_response(
    protocol: Protocol,
    upstream: WireFormat,
    error: crate::failure::UpstreamError,
) -> Response<ResponseBody> {
    let (status, body) =
        crate::respond::convert_error(client_format(protocol), upstream, error.status, &error.body);
    let mut response = json_response(status, body);
    if let Some(cooldown) = error.cooldown {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after_value(cooldown));
    }
    response
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

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The upstream URI: the service's origin and the attempt's path (prefix included) and query.
fn upstream_uri(origin: &Origin, path_and_query: PathAndQuery) -> Option<Uri> {
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
        let path = PathAndQuery::from_static("/openai/v1/chat/completions?a=1");
        let uri = upstream_uri(&origin, path).expect("uri");
        assert_eq!(
            uri,
            "https://api.example.com/openai/v1/chat/completions?a=1"
        );
        assert!(parse_origin("s", "ftp://x").is_err());
        assert!(parse_origin("s", "/relative").is_err());
    }
}
