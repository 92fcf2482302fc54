//! Emits the gateway's `plan.rs` as tokens: static tables plus one `match`-based route matcher.
//!
//! The generated code names only `gatesmith_runtime::codegen` (imported as
//! `codegen`), so the runtime can change everything behind that module
//! without touching generated files.
//!
//! Matcher precedence, the contract `gatesmith routes` prints:
//! 1. Host (lower-case, port removed by the runtime): exact hosts first, then
//!    `*.suffix` hosts longest suffix first, then `*`. The first host pattern
//!    that matches owns the request; the others are not consulted.
//! 2. Base path: the host's bases longest first, matched at a segment
//!    boundary by `codegen::strip_base`; the first match owns the request
//!    (`/` matches everything, so it is always last).
//! 3. Path below the base, then method: a path known for another method gives
//!    `MethodNotAllowed`, an unknown path `NoRoute`, no owning base `NotFound`.
//!
//! Model services (and the compiled `byModelName` globs) are emitted by
//! `emit_model_service`.
//!
//! One `fn emit_*` per item kind. Every row of every table is its own `const`
//! with a `///` line naming the spec item it comes from (prettyplease drops
//! `//` comments), named through [`ItemNames`] so names never collide.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

use crate::emit_model_service as model_service;
use crate::ir::{
    BaseEntry, FailoverPolicy, HostEntry, HostPattern, Method, MockFault, MockSettings, ModelApi,
    Plan, Protocol, Route, Service, ServiceTimeouts, Target, TimeoutOverrides, UseCase,
    WhenAllCooling,
};

/// Emits the whole `plan.rs`.
pub fn emit(plan: &Plan) -> TokenStream {
    let mut names = ItemNames::default();
    let service_consts = plan
        .services
        .iter()
        .map(|s| names.claim("SERVICE", &s.name))
        .collect::<Vec<_>>();
    let model_api_consts = plan
        .model_apis
        .iter()
        .map(|m| names.claim("MODEL_API", &m.name))
        .collect::<Vec<_>>();
    let selectors = plan
        .model_apis
        .iter()
        .map(|api| model_service::Selector::name(api, &mut names))
        .collect::<Vec<_>>();
    let route_consts = plan
        .routes
        .iter()
        .map(|r| names.claim("ROUTE", &format!("{}_{}", model_api_name(plan, r), r.name)))
        .collect::<Vec<_>>();
    let sites = Sites::group(&plan.hosts);
    let path_matchers = PathMatchers::name(plan, &mut names);

    let header = emit_module_doc(plan);
    let plan_static = emit_plan(plan);
    let services = emit_services(plan, &service_consts);
    let model_apis = emit_model_apis(plan, &model_api_consts, &selectors);
    let selector_items = plan
        .model_apis
        .iter()
        .zip(&selectors)
        .filter_map(|(api, selector)| model_service::emit_selector(api, selector.as_ref()?));
    let routes = emit_routes(plan, &route_consts);
    let matcher = emit_match_route(plan, &sites);
    let site_fns = sites
        .tables
        .iter()
        .enumerate()
        .map(|(index, bases)| emit_site(plan, &sites, &path_matchers, index, bases));
    let path_fns = path_matchers
        .bases
        .iter()
        .zip(&path_matchers.names)
        .filter_map(|(base, name)| Some(emit_path_matcher(plan, (*base)?, name.as_ref()?)));

    quote! {
        #header
        use gatesmith_runtime::codegen;
        #plan_static
        #services
        #model_apis
        #(#selector_items)*
        #routes
        #matcher
        #(#site_fns)*
        #(#path_fns)*
    }
}

fn emit_module_doc(plan: &Plan) -> TokenStream {
    let line = doc_text(&format!(
        "The `{}` gateway plan: static tables and the route matcher.",
        plan.environment
    ));
    quote! { #![doc = #line] }
}

fn emit_plan(plan: &Plan) -> TokenStream {
    let doc = doc_text(&format!(
        "Environment `{}`, compiled from `{}`.",
        plan.environment, plan.source
    ));
    let environment = &plan.environment;
    let gateway = emit_gateway_settings(plan);
    quote! {
        #[doc = #doc]
        pub static PLAN: codegen::Plan = codegen::Plan {
            environment: #environment,
            gateway: #gateway,
            services: &SERVICES,
            model_apis: &MODEL_APIS,
            routes: &ROUTES,
            match_route,
        };
    }
}

fn emit_gateway_settings(plan: &Plan) -> TokenStream {
    let g = &plan.gateway;
    let listen = &g.listen;
    let max_request_bytes = num(g.max_request_bytes);
    let header_read_timeout_ms = num(g.header_read_timeout_ms);
    let drain_grace_ms = num(g.drain_grace_ms);
    quote! {
        codegen::GatewaySettings {
            listen: #listen,
            max_request_bytes: #max_request_bytes,
            header_read_timeout_ms: #header_read_timeout_ms,
            drain_grace_ms: #drain_grace_ms,
        }
    }
}

/// One `const` per row plus the static table listing them in id order.
fn emit_table(
    table: &str,
    row_type: TokenStream,
    rows: impl Iterator<Item = (String, Ident, TokenStream)>,
) -> TokenStream {
    let table = Ident::new(table, Span::call_site());
    let mut consts = Vec::new();
    let mut names = Vec::new();
    for (doc, name, value) in rows {
        let doc = doc_text(&doc);
        consts.push(quote! {
            #[doc = #doc]
            const #name: #row_type = #value;
        });
        names.push(name);
    }
    let len = Literal::usize_unsuffixed(names.len());
    quote! {
        static #table: [#row_type; #len] = [#(#names),*];
        #(#consts)*
    }
}

fn emit_services(plan: &Plan, consts: &[Ident]) -> TokenStream {
    let rows = plan
        .services
        .iter()
        .zip(consts)
        .map(|(service, name)| (service_doc(service), name.clone(), emit_service(service)));
    emit_table("SERVICES", quote!(codegen::Service), rows)
}

fn emit_service(service: &Service) -> TokenStream {
    let name = &service.name;
    let provider = format_ident!("{}", service.provider.runtime_variant());
    let base_url = &service.base_url;
    let api_key_env = option_str(service.api_key_env.as_deref());
    let timeouts = emit_service_timeouts(&service.timeouts);
    let mock = match &service.mock {
        Some(mock) => {
            let mock = emit_mock_settings(mock);
            quote!(Some(#mock))
        }
        None => quote!(None),
    };
    let azure_api_version = &service.options.azure_api_version;
    let dashscope_native = service.options.dashscope_native;
    let default_max_tokens = num(service.options.default_max_tokens);
    quote! {
        codegen::Service {
            name: #name,
            provider: codegen::Provider::#provider,
            base_url: #base_url,
            api_key_env: #api_key_env,
            timeouts: #timeouts,
            mock: #mock,
            options: codegen::ProviderOptions {
                azure_api_version: #azure_api_version,
                dashscope_native: #dashscope_native,
                default_max_tokens: #default_max_tokens,
            },
        }
    }
}

fn emit_service_timeouts(timeouts: &ServiceTimeouts) -> TokenStream {
    let connect_ms = num(timeouts.connect_ms);
    let first_packet_ms = num(timeouts.first_packet_ms);
    let idle_ms = num(timeouts.idle_ms);
    let total_ms = num(timeouts.total_ms);
    quote! {
        codegen::ServiceTimeouts {
            connect_ms: #connect_ms,
            first_packet_ms: #first_packet_ms,
            idle_ms: #idle_ms,
            total_ms: #total_ms,
        }
    }
}

fn emit_mock_settings(mock: &MockSettings) -> TokenStream {
    let latency_ms = num(mock.latency_ms);
    let stream_chunks = num(mock.stream_chunks);
    let chunk_delay_ms = num(mock.chunk_delay_ms);
    let completion_tokens = num(mock.completion_tokens);
    let fault = match mock.fault {
        Some(fault) => {
            let fault = emit_mock_fault(fault);
            quote!(Some(#fault))
        }
        None => quote!(None),
    };
    quote! {
        codegen::MockSettings {
            latency_ms: #latency_ms,
            stream_chunks: #stream_chunks,
            chunk_delay_ms: #chunk_delay_ms,
            completion_tokens: #completion_tokens,
            fault: #fault,
        }
    }
}

fn emit_mock_fault(fault: MockFault) -> TokenStream {
    match fault {
        MockFault::Status(status) => {
            let status = num(status);
            quote!(codegen::MockFault::Status(#status))
        }
        MockFault::StallBeforeHead { ms } => {
            let ms = num(ms);
            quote!(codegen::MockFault::StallBeforeHead { ms: #ms })
        }
        MockFault::StallBeforeFirstChunk { ms } => {
            let ms = num(ms);
            quote!(codegen::MockFault::StallBeforeFirstChunk { ms: #ms })
        }
        MockFault::StallAfterChunks { chunks, ms } => {
            let (chunks, ms) = (num(chunks), num(ms));
            quote!(codegen::MockFault::StallAfterChunks { chunks: #chunks, ms: #ms })
        }
        MockFault::CutAfterChunks { chunks } => {
            let chunks = num(chunks);
            quote!(codegen::MockFault::CutAfterChunks { chunks: #chunks })
        }
        MockFault::MalformedAfterChunks { chunks } => {
            let chunks = num(chunks);
            quote!(codegen::MockFault::MalformedAfterChunks { chunks: #chunks })
        }
    }
}

fn emit_model_apis(
    plan: &Plan,
    consts: &[Ident],
    selectors: &[Option<model_service::Selector>],
) -> TokenStream {
    let rows = plan
        .model_apis
        .iter()
        .zip(consts)
        .zip(selectors)
        .map(|((api, name), selector)| {
            (
                model_api_doc(api),
                name.clone(),
                emit_model_api(api, selector.as_ref()),
            )
        });
    emit_table("MODEL_APIS", quote!(codegen::ModelApi), rows)
}

fn emit_model_api(api: &ModelApi, selector: Option<&model_service::Selector>) -> TokenStream {
    let name = &api.name;
    let use_case = use_case_variant(api.use_case);
    let protocol = protocol_variant(api.protocol);
    let resource_group = &api.resource_group;
    let base_path = &api.base_path;
    let strip_base_path = api.strip_base_path;
    let m = api.monitoring;
    let (metrics, logs, traces, record_request, record_response) = (
        m.metrics,
        m.logs,
        m.traces,
        m.record_request,
        m.record_response,
    );
    let model_service = model_service::emit_model_service(&api.model_service, selector);
    let fallback = api.fallback.iter().map(emit_target);
    let failover = emit_failover(&api.failover);
    let timeouts = emit_timeout_overrides(&api.timeouts);
    quote! {
        codegen::ModelApi {
            name: #name,
            use_case: codegen::UseCase::#use_case,
            protocol: codegen::Protocol::#protocol,
            resource_group: #resource_group,
            base_path: #base_path,
            strip_base_path: #strip_base_path,
            monitoring: codegen::Monitoring {
                metrics: #metrics,
                logs: #logs,
                traces: #traces,
                record_request: #record_request,
                record_response: #record_response,
            },
            model_service: #model_service,
            fallback: &[#(#fallback),*],
            failover: #failover,
            timeouts: #timeouts,
        }
    }
}

fn use_case_variant(use_case: UseCase) -> Ident {
    let name = match use_case {
        UseCase::TextGeneration => "TextGeneration",
        UseCase::ImageGeneration => "ImageGeneration",
        UseCase::VideoGeneration => "VideoGeneration",
        UseCase::SpeechSynthesis => "SpeechSynthesis",
        UseCase::Embedding => "Embedding",
        UseCase::Rerank => "Rerank",
        UseCase::Others => "Others",
    };
    Ident::new(name, Span::call_site())
}

/// The runtime only knows the protocols the catalog can serve; validation
/// rejects the others before lowering, so reaching one here is a compiler bug.
fn protocol_variant(protocol: Protocol) -> Ident {
    let name = match protocol {
        Protocol::OpenAi => "OpenAi",
        Protocol::Anthropic => "Anthropic",
        Protocol::DashScope | Protocol::ComfyUi | Protocol::Vllm => {
            unreachable!("validation rejects protocol {protocol:?}: it has no routes yet")
        }
    };
    Ident::new(name, Span::call_site())
}

fn emit_routes(plan: &Plan, consts: &[Ident]) -> TokenStream {
    let rows = plan.routes.iter().zip(consts).map(|(route, name)| {
        let api = &plan.model_apis[usize::from(route.model_api)];
        let doc = format!(
            "ModelAPI `{}` ({}), route `{}`.",
            api.name, api.file, route.name
        );
        (doc, name.clone(), emit_route(route))
    });
    emit_table("ROUTES", quote!(codegen::Route), rows)
}

fn emit_route(route: &Route) -> TokenStream {
    let model_api = num(route.model_api);
    let name = route.name;
    let kind = Ident::new(route.kind.runtime_variant(), Span::call_site());
    let path = route.path;
    let methods = emit_methods(route.methods);
    quote! {
        codegen::Route {
            model_api: #model_api,
            name: #name,
            kind: codegen::RouteKind::#kind,
            path: #path,
            methods: #methods,
        }
    }
}

/// A `codegen::Methods` constant expression: `POST`, or `GET.union(POST)`.
fn emit_methods(methods: &[Method]) -> TokenStream {
    let mut sorted = methods.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut names = sorted
        .iter()
        .map(|m| Ident::new(m.runtime_const(), Span::call_site()));
    match names.next() {
        None => quote!(codegen::Methods(0)),
        Some(first) => {
            let rest = names.map(|name| quote!(.union(codegen::Methods::#name)));
            quote!(codegen::Methods::#first #(#rest)*)
        }
    }
}

/// Host patterns grouped by their base table: hosts whose tables are equal
/// share one `site_N` function.
struct Sites<'p> {
    /// Distinct base tables, in order of first use by `Plan::hosts`.
    tables: Vec<&'p [BaseEntry]>,
    /// For each entry of `Plan::hosts`, the index of its table.
    site_of_host: Vec<usize>,
}

impl<'p> Sites<'p> {
    fn group(hosts: &'p [HostEntry]) -> Self {
        let mut tables: Vec<&'p [BaseEntry]> = Vec::new();
        let mut site_of_host = Vec::with_capacity(hosts.len());
        for host in hosts {
            let index = match tables.iter().position(|t| *t == host.bases.as_slice()) {
                Some(index) => index,
                None => {
                    tables.push(&host.bases);
                    tables.len() - 1
                }
            };
            site_of_host.push(index);
        }
        Sites {
            tables,
            site_of_host,
        }
    }

    fn hosts_of(&self, site: usize, hosts: &'p [HostEntry]) -> Vec<&'p HostPattern> {
        hosts
            .iter()
            .zip(&self.site_of_host)
            .filter(|(_, s)| **s == site)
            .map(|(h, _)| &h.pattern)
            .collect()
    }
}

fn site_ident(index: usize) -> Ident {
    format_ident!("site_{}", index)
}

fn emit_match_route(plan: &Plan, sites: &Sites) -> TokenStream {
    let doc = doc_text(
        "Host, then base path, then path and method; the precedence `gatesmith routes` prints.",
    );
    let params_used = !plan.hosts.is_empty();
    let only_any_host = plan.hosts.len() == 1 && plan.hosts[0].pattern == HostPattern::Any;
    let host_param = param_ident("host", params_used && !only_any_host);
    let path_param = param_ident("path", params_used);
    let method_param = param_ident("method", params_used);

    let body = if !params_used {
        quote!(codegen::RouteMatch::NotFound)
    } else if only_any_host {
        let site = site_ident(sites.site_of_host[0]);
        quote!(#site(path, method))
    } else {
        let mut exact_arms: Vec<(usize, Vec<&str>)> = Vec::new();
        let mut other_arms = Vec::new();
        let mut has_any = false;
        for (host, &site) in plan.hosts.iter().zip(&sites.site_of_host) {
            let call = site_ident(site);
            match &host.pattern {
                HostPattern::Exact(name) => match exact_arms.iter_mut().find(|(s, _)| *s == site) {
                    Some((_, names)) => names.push(name),
                    None => exact_arms.push((site, vec![name])),
                },
                HostPattern::Suffix(suffix) => other_arms.push(quote! {
                    _ if codegen::host_has_suffix(host, #suffix) => #call(path, method),
                }),
                HostPattern::Any => {
                    has_any = true;
                    other_arms.push(quote!(_ => #call(path, method),));
                }
            }
        }
        let exact_arms = exact_arms.into_iter().map(|(site, names)| {
            let call = site_ident(site);
            quote!(#(#names)|* => #call(path, method),)
        });
        let fallback = (!has_any).then(|| quote!(_ => codegen::RouteMatch::NotFound,));
        quote! {
            match host {
                #(#exact_arms)*
                #(#other_arms)*
                #fallback
            }
        }
    };
    quote! {
        #[doc = #doc]
        fn match_route(
            #host_param: &str,
            #path_param: &str,
            #method_param: codegen::Method,
        ) -> codegen::RouteMatch {
            #body
        }
    }
}

/// A parameter name, `_`-prefixed when the body does not read it so the
/// generated code stays warning-free.
fn param_ident(name: &str, used: bool) -> Ident {
    if used {
        Ident::new(name, Span::call_site())
    } else {
        format_ident!("_{}", name)
    }
}

fn emit_site(
    plan: &Plan,
    sites: &Sites,
    path_matchers: &PathMatchers,
    index: usize,
    bases: &[BaseEntry],
) -> TokenStream {
    let hosts = sites
        .hosts_of(index, &plan.hosts)
        .into_iter()
        .map(|h| format!("`{}`", host_pattern_text(h)))
        .collect::<Vec<_>>()
        .join(", ");
    let noun = if hosts.contains(", ") {
        "hosts"
    } else {
        "host"
    };
    let docs = [format!(
        "Base paths of {noun} {hosts}, longest first; the first match owns the request."
    )];
    let docs = docs.iter().map(|d| doc_text(d));

    let name = site_ident(index);
    let path_param = param_ident("path", !bases.is_empty());
    let method_param = param_ident("method", !bases.is_empty());
    let mut body = Vec::new();
    let mut ends_in_catch_all = false;
    for base in bases {
        let call = path_matchers.name_of(base.model_api);
        if base.base_path.is_empty() {
            // `/` matches every path, so it ends the chain (it sorts last).
            body.push(quote!(#call(path, method)));
            ends_in_catch_all = true;
            break;
        }
        let base_path = &base.base_path;
        body.push(quote! {
            if let Some(rest) = codegen::strip_base(path, #base_path) {
                return #call(rest, method);
            }
        });
    }
    if !ends_in_catch_all {
        body.push(quote!(codegen::RouteMatch::NotFound));
    }
    quote! {
        #(#[doc = #docs])*
        fn #name(#path_param: &str, #method_param: codegen::Method) -> codegen::RouteMatch {
            #(#body)*
        }
    }
}

/// One path matcher per Model API a host can reach: a Model API has one
/// base path and one route list, so every site sharing it calls one function.
struct PathMatchers<'p> {
    /// Indexed by `ModelApiId`: the base entry describing its routes.
    bases: Vec<Option<&'p BaseEntry>>,
    /// Indexed by `ModelApiId`: the function's name.
    names: Vec<Option<Ident>>,
}

impl<'p> PathMatchers<'p> {
    fn name(plan: &'p Plan, names: &mut ItemNames) -> Self {
        let mut bases = vec![None; plan.model_apis.len()];
        for base in plan.hosts.iter().flat_map(|h| &h.bases) {
            bases[usize::from(base.model_api)].get_or_insert(base);
        }
        let names = bases
            .iter()
            .zip(&plan.model_apis)
            .map(|(base, api)| base.map(|_| names.claim_fn("paths", &api.name)))
            .collect();
        PathMatchers { bases, names }
    }

    fn name_of(&self, model_api: u16) -> &Ident {
        match self.names.get(usize::from(model_api)) {
            Some(Some(name)) => name,
            _ => unreachable!("every base's Model API has a path matcher"),
        }
    }
}

/// `match rest` over one Model API's routes. Routes sharing a path become
/// one arm that tries their methods in catalog order.
fn emit_path_matcher(plan: &Plan, base: &BaseEntry, name: &Ident) -> TokenStream {
    let api = &plan.model_apis[usize::from(base.model_api)];
    let doc = doc_text(&format!(
        "Paths below `{}` of ModelAPI `{}` ({}).",
        base_path_text(&base.base_path),
        api.name,
        api.file
    ));
    let model_api = num(base.model_api);
    if base.routes.is_empty() {
        return quote! {
            #[doc = #doc]
            fn #name(_rest: &str, _method: codegen::Method) -> codegen::RouteMatch {
                codegen::RouteMatch::NoRoute { model_api: #model_api }
            }
        };
    }
    let base_len = Literal::usize_unsuffixed(base.base_path.len());
    let mut paths: Vec<(&str, Vec<u16>)> = Vec::new();
    for &route_id in &base.routes {
        let route = &plan.routes[usize::from(route_id)];
        match paths.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, ids)) => ids.push(route_id),
            None => paths.push((route.path, vec![route_id])),
        }
    }
    let arms = paths.iter().map(|(path, ids)| {
        let mut all_methods = Vec::new();
        let tries = ids
            .iter()
            .map(|&id| {
                let route = &plan.routes[usize::from(id)];
                all_methods.extend_from_slice(route.methods);
                let methods = emit_methods(route.methods);
                let id = num(id);
                quote! {
                    if #methods.contains(method) {
                        codegen::RouteMatch::Found { route: #id, base_len: #base_len }
                    } else
                }
            })
            .collect::<Vec<_>>();
        let allowed = emit_methods(&all_methods);
        quote! {
            #path => #(#tries)* {
                codegen::RouteMatch::MethodNotAllowed { model_api: #model_api, allowed: #allowed }
            },
        }
    });
    quote! {
        #[doc = #doc]
        fn #name(rest: &str, method: codegen::Method) -> codegen::RouteMatch {
            match rest {
                #(#arms)*
                _ => codegen::RouteMatch::NoRoute { model_api: #model_api },
            }
        }
    }
}

fn service_doc(service: &Service) -> String {
    format!("AIService `{}` ({}).", service.name, service.file)
}

fn model_api_doc(api: &ModelApi) -> String {
    format!("ModelAPI `{}` ({}).", api.name, api.file)
}

fn model_api_name<'p>(plan: &'p Plan, route: &Route) -> &'p str {
    &plan.model_apis[usize::from(route.model_api)].name
}

/// How a host pattern is written in a spec.
pub(crate) fn host_pattern_text(pattern: &HostPattern) -> String {
    match pattern {
        HostPattern::Exact(host) => host.clone(),
        HostPattern::Suffix(suffix) => format!("*{suffix}"),
        HostPattern::Any => "*".to_owned(),
    }
}

/// How a normalized base path is written in a spec (`""` is `/`).
pub(crate) fn base_path_text(base_path: &str) -> &str {
    if base_path.is_empty() { "/" } else { base_path }
}

/// An unsuffixed integer literal: the field types give the width, and
/// `3000` reads better than `3000u64`.
pub(crate) fn emit_target(target: &Target) -> TokenStream {
    let service = num(target.service);
    let model = option_str(target.model.as_deref());
    quote! {
        codegen::Target {
            service: #service,
            model: #model,
        }
    }
}

fn emit_failover(failover: &FailoverPolicy) -> TokenStream {
    let on_client_errors = failover.on_client_errors;
    let on_context_length = failover.on_context_length;
    let budget_ms = num(failover.budget_ms);
    let when_all_cooling = match failover.when_all_cooling {
        WhenAllCooling::Reject => quote!(codegen::WhenAllCooling::Reject),
        WhenAllCooling::WaitUpTo { ms } => {
            let ms = num(ms);
            quote!(codegen::WhenAllCooling::WaitUpTo { ms: #ms })
        }
    };
    quote! {
        codegen::FailoverPolicy {
            on_client_errors: #on_client_errors,
            on_context_length: #on_context_length,
            budget_ms: #budget_ms,
            when_all_cooling: #when_all_cooling,
        }
    }
}

fn emit_timeout_overrides(timeouts: &TimeoutOverrides) -> TokenStream {
    let option = |value: Option<u64>| match value {
        Some(ms) => {
            let ms = num(ms);
            quote!(Some(#ms))
        }
        None => quote!(None),
    };
    let first_packet_ms = option(timeouts.first_packet_ms);
    let idle_ms = option(timeouts.idle_ms);
    let total_ms = option(timeouts.total_ms);
    quote! {
        codegen::TimeoutOverrides {
            first_packet_ms: #first_packet_ms,
            idle_ms: #idle_ms,
            total_ms: #total_ms,
        }
    }
}

pub(crate) fn num(value: impl Into<u64>) -> Literal {
    Literal::u64_unsuffixed(value.into())
}

pub(crate) fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    }
}

/// Doc attribute text: rustdoc's `///` convention puts a space after the slashes.
pub(crate) fn doc_text(line: &str) -> String {
    format!(" {}", line.replace(['\r', '\n'], " "))
}

/// Hands out `const` names derived from spec names: upper snake case, unique
/// within one file (`a-b` and `a_b` are both valid spec names, so the second
/// one gets a numeric suffix).
#[derive(Default)]
pub(crate) struct ItemNames {
    taken: BTreeSet<String>,
}

impl ItemNames {
    pub(crate) fn claim(&mut self, prefix: &str, spec_name: &str) -> Ident {
        let base = format!("{prefix}_{}", upper_snake(spec_name));
        self.claim_unique(base)
    }

    /// A function name: lower snake case.
    pub(crate) fn claim_fn(&mut self, prefix: &str, spec_name: &str) -> Ident {
        let base = format!("{prefix}_{}", upper_snake(spec_name).to_ascii_lowercase());
        self.claim_unique(base)
    }

    fn claim_unique(&mut self, base: String) -> Ident {
        let mut name = base.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        Ident::new(&name, Span::call_site())
    }
}

/// `chat-completions` -> `CHAT_COMPLETIONS`; anything outside `[A-Za-z0-9_]`
/// becomes `_`, so the result is always a valid identifier after a prefix.
fn upper_snake(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ir::{
        GatewaySettings, ModelService, Monitoring, Provider, RouteId, RouteKind, ServiceId,
    };

    const POST: &[Method] = &[Method::Post];
    const GET: &[Method] = &[Method::Get];

    fn service(name: &str, provider: Provider) -> Service {
        Service {
            name: name.to_owned(),
            file: "services.yaml".to_owned(),
            provider,
            base_url: match provider {
                Provider::Mock => String::new(),
                _ => "https://api.openai.com".to_owned(),
            },
            api_key_env: (provider == Provider::OpenAi).then(|| "OPENAI_API_KEY".to_owned()),
            timeouts: ServiceTimeouts {
                connect_ms: 2000,
                first_packet_ms: 0,
                idle_ms: 120_000,
                total_ms: 600_000,
            },
            mock: (provider == Provider::Mock).then_some(MockSettings {
                latency_ms: 0,
                stream_chunks: 8,
                chunk_delay_ms: 5,
                completion_tokens: 16,
                fault: Some(MockFault::StallAfterChunks { chunks: 2, ms: 100 }),
            }),
            options: crate::ir::ProviderOptions {
                azure_api_version: "2024-10-21".to_owned(),
                dashscope_native: false,
                default_max_tokens: 4096,
            },
        }
    }

    fn model_api(name: &str, base_path: &str, service: ServiceId) -> ModelApi {
        ModelApi {
            name: name.to_owned(),
            file: format!("{name}.yaml"),
            use_case: UseCase::TextGeneration,
            protocol: Protocol::OpenAi,
            resource_group: "default".to_owned(),
            base_path: base_path.to_owned(),
            strip_base_path: !base_path.is_empty(),
            domains: vec![],
            monitoring: Monitoring {
                metrics: true,
                logs: true,
                traces: false,
                record_request: false,
                record_response: false,
            },
            model_service: ModelService::Single(Target {
                service,
                model: (service == 0).then(|| "mock-small".to_owned()),
            }),
            fallback: vec![],
            failover: FailoverPolicy {
                on_client_errors: false,
                on_context_length: false,
                budget_ms: 30_000,
                when_all_cooling: WhenAllCooling::Reject,
            },
            timeouts: TimeoutOverrides {
                first_packet_ms: Some(3000),
                ..TimeoutOverrides::default()
            },
        }
    }

    fn route(
        model_api: u16,
        name: &'static str,
        path: &'static str,
        methods: &'static [Method],
    ) -> Route {
        Route {
            model_api,
            name,
            kind: RouteKind::ChatCompletions,
            path,
            methods,
        }
    }

    fn base(base_path: &str, model_api: u16, routes: &[RouteId]) -> BaseEntry {
        BaseEntry {
            base_path: base_path.to_owned(),
            model_api,
            routes: routes.to_vec(),
        }
    }

    /// Every host kind, a shared base table, a base without `/`, two routes
    /// on one path with different methods, and colliding const names.
    pub(crate) fn sample_plan() -> Plan {
        Plan {
            environment: "sample".to_owned(),
            source: "specs/sample".to_owned(),
            gateway: GatewaySettings {
                listen: "127.0.0.1:8080".to_owned(),
                max_request_bytes: 33_554_432,
                header_read_timeout_ms: 10_000,
                drain_grace_ms: 30_000,
            },
            services: vec![
                service("mock", Provider::Mock),
                service("openai", Provider::OpenAi),
            ],
            model_apis: vec![
                model_api("chat", "", 0),
                model_api("team-a", "/team/a", 1),
                model_api("team_a", "/team", 1),
            ],
            routes: vec![
                route(0, "chat-completions", "/v1/chat/completions", POST),
                route(0, "completions", "/v1/completions", POST),
                route(1, "chat-completions", "/v1/chat/completions", POST),
                route(1, "models", "/v1/chat/completions", GET),
            ],
            hosts: vec![
                HostEntry {
                    pattern: HostPattern::Exact("api.example.com".to_owned()),
                    bases: vec![base("/team/a", 1, &[2, 3]), base("", 0, &[0, 1])],
                },
                HostEntry {
                    pattern: HostPattern::Exact("llm.example.com".to_owned()),
                    bases: vec![base("/team", 2, &[])],
                },
                HostEntry {
                    pattern: HostPattern::Exact("www.example.com".to_owned()),
                    bases: vec![base("/team/a", 1, &[2, 3]), base("", 0, &[0, 1])],
                },
                HostEntry {
                    pattern: HostPattern::Suffix(".example.com".to_owned()),
                    bases: vec![base("/team", 2, &[])],
                },
                HostEntry {
                    pattern: HostPattern::Any,
                    bases: vec![base("", 0, &[0, 1])],
                },
            ],
        }
    }

    pub(crate) fn empty_plan() -> Plan {
        Plan {
            environment: "empty".to_owned(),
            source: "specs/empty".to_owned(),
            services: vec![],
            model_apis: vec![],
            routes: vec![],
            hosts: vec![],
            ..sample_plan()
        }
    }

    fn generated(plan: &Plan) -> String {
        crate::format::format(emit(plan), plan)
    }

    /// Code without whitespace or trailing commas, so assertions do not
    /// depend on where prettyplease breaks lines.
    fn compact(code: &str) -> String {
        let squeezed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        squeezed
            .replace(",}", "}")
            .replace(",)", ")")
            .replace(",]", "]")
    }

    fn has(code: &str, needle: &str) -> bool {
        compact(code).contains(&compact(needle))
    }

    fn position(code: &str, needle: &str) -> Option<usize> {
        compact(code).find(&compact(needle))
    }

    /// The text between `fn <name>(` and the next top-level `}` line.
    fn function<'t>(text: &'t str, name: &str) -> &'t str {
        let start = text.find(&format!("fn {name}(")).expect(name);
        let end = text[start..].find("\n}\n").expect("function end");
        &text[start..start + end]
    }

    #[test]
    fn services_carry_their_provider_and_their_own_options() {
        let mut plan = sample_plan();
        plan.services[1].provider = Provider::AzureOpenAi;
        plan.services[1].options = crate::ir::ProviderOptions {
            azure_api_version: "2024-06-01".to_owned(),
            dashscope_native: true,
            default_max_tokens: 8192,
        };
        let text = generated(&plan);
        assert!(
            text.contains("provider: codegen::Provider::AzureOpenAi,"),
            "{text}"
        );
        assert!(text.contains(
            "options: codegen::ProviderOptions {\n        azure_api_version: \"2024-06-01\",\n        dashscope_native: true,\n        default_max_tokens: 8192,\n    },"
        ), "{text}");
        for provider in Provider::ALL {
            plan.services[1].provider = provider;
            let variant = format!("codegen::Provider::{},", provider.runtime_variant());
            assert!(generated(&plan).contains(&variant), "{variant}");
        }
    }

    #[test]
    fn emitting_twice_gives_identical_bytes() {
        assert_eq!(generated(&sample_plan()), generated(&sample_plan()));
    }

    #[test]
    fn header_names_the_source_and_the_regenerate_command() {
        let text = generated(&sample_plan());
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("// @generated by gatesmith from specs/sample. DO NOT EDIT.")
        );
        assert_eq!(
            lines.next(),
            Some("// Regenerate with: gatesmith build specs/sample")
        );
    }

    #[test]
    fn output_names_only_the_codegen_module_and_no_absolute_paths() {
        let text = generated(&sample_plan());
        assert!(text.contains("use gatesmith_runtime::codegen;"));
        assert_eq!(text.matches("gatesmith_runtime").count(), 1, "{text}");
        let cwd = std::env::current_dir().unwrap();
        assert!(!text.contains(&*cwd.to_string_lossy()));
        assert!(!text.contains("/work/"));
    }

    #[test]
    fn table_rows_carry_their_provenance_and_unique_names() {
        let text = generated(&sample_plan());
        assert!(text.contains(
            "/// AIService `mock` (services.yaml).\nconst SERVICE_MOCK: codegen::Service"
        ));
        assert!(
            text.contains(
                "/// ModelAPI `chat` (chat.yaml).\nconst MODEL_API_CHAT: codegen::ModelApi"
            )
        );
        // `team-a` and `team_a` are distinct spec names with one upper-snake form.
        assert!(text.contains("const MODEL_API_TEAM_A: codegen::ModelApi"));
        assert!(text.contains("const MODEL_API_TEAM_A_2: codegen::ModelApi"));
        assert!(has(
            &text,
            "static MODEL_APIS: [codegen::ModelApi; 3] = [MODEL_API_CHAT, MODEL_API_TEAM_A, MODEL_API_TEAM_A_2];"
        ));
        assert!(text.contains("/// ModelAPI `chat` (chat.yaml), route `chat-completions`."));
        assert!(has(
            &text,
            "fault: Some(codegen::MockFault::StallAfterChunks { chunks: 2, ms: 100 })"
        ));
        assert!(text.contains("model: Some(\"mock-small\")"));
        assert!(text.contains("api_key_env: Some(\"OPENAI_API_KEY\")"));
        assert!(!text.contains("u64"), "literals are unsuffixed");
    }

    #[test]
    fn hosts_match_exact_then_suffix_then_any_and_equal_tables_share_a_site() {
        let text = generated(&sample_plan());
        let matcher = function(&text, "match_route");
        let exact_shared = position(
            matcher,
            "\"api.example.com\" | \"www.example.com\" => site_0(path, method)",
        );
        let exact_other = position(matcher, "\"llm.example.com\" => site_1(path, method)");
        let suffix = position(
            matcher,
            "_ if codegen::host_has_suffix(host, \".example.com\") => site_1(path, method)",
        );
        let any = position(matcher, "_ => site_2(path, method)");
        assert!(exact_shared.is_some() && exact_other.is_some(), "{matcher}");
        assert!(exact_other < suffix && suffix < any, "{matcher}");
        assert!(
            !matcher.contains("NotFound"),
            "`*` catches every other host"
        );
        assert!(!text.contains("fn site_3("));
    }

    #[test]
    fn bases_are_tried_longest_first_and_slash_catches_the_rest() {
        let text = generated(&sample_plan());
        let site = function(&text, "site_0");
        let team = position(
            site,
            "if let Some(rest) = codegen::strip_base(path, \"/team/a\") { return paths_team_a(rest, method); }",
        );
        let root = position(site, "paths_chat(path, method)");
        assert!(team.is_some() && team < root, "{site}");
        assert!(!site.contains("NotFound"), "`/` owns every path: {site}");
    }

    #[test]
    fn each_model_api_gets_one_path_matcher_shared_by_its_sites() {
        let text = generated(&sample_plan());
        assert_eq!(text.matches("fn paths_chat(").count(), 1);
        assert_eq!(
            text.matches("paths_chat(path, method)").count(),
            2,
            "site_0 and site_2"
        );
        let chat = function(&text, "paths_chat");
        assert!(
            has(
                chat,
                "\"/v1/completions\" => { if codegen::Methods::POST.contains(method) { codegen::RouteMatch::Found { route: 1, base_len: 0 } }"
            ),
            "{chat}"
        );
        let team = function(&text, "paths_team_a");
        assert!(
            has(team, "codegen::RouteMatch::Found { route: 2, base_len: 7 }"),
            "{team}"
        );
        assert!(text.contains(
            "/// Paths below `/team/a` of ModelAPI `team-a` (team-a.yaml).\nfn paths_team_a("
        ));
    }

    #[test]
    fn one_path_with_two_methods_tries_both_then_reports_both_allowed() {
        let text = generated(&sample_plan());
        let team = function(&text, "paths_team_a");
        assert!(
            has(team, "if codegen::Methods::POST.contains(method) {"),
            "{team}"
        );
        assert!(
            has(team, "} else if codegen::Methods::GET.contains(method) {"),
            "{team}"
        );
        assert!(
            has(
                team,
                "allowed: codegen::Methods::GET.union(codegen::Methods::POST)"
            ),
            "{team}"
        );
        assert!(
            has(
                team,
                "_ => { codegen::RouteMatch::NoRoute { model_api: 1 } }"
            ),
            "{team}"
        );
        assert_eq!(
            team.matches("\"/v1/chat/completions\" =>").count(),
            1,
            "one arm per path"
        );
    }

    #[test]
    fn a_base_without_routes_answers_no_route_and_unmatched_paths_not_found() {
        let text = generated(&sample_plan());
        let site = function(&text, "site_1");
        assert!(
            has(
                site,
                "if let Some(rest) = codegen::strip_base(path, \"/team\") { return paths_team_a_2(rest, method); } codegen::RouteMatch::NotFound"
            ),
            "{site}"
        );
        let paths = function(&text, "paths_team_a_2");
        assert!(
            has(
                paths,
                "fn paths_team_a_2(_rest: &str, _method: codegen::Method) -> codegen::RouteMatch { codegen::RouteMatch::NoRoute { model_api: 2 }"
            ),
            "{paths}"
        );
    }

    #[test]
    fn an_empty_plan_still_yields_a_complete_file() {
        let text = generated(&empty_plan());
        assert!(
            text.contains("static SERVICES: [codegen::Service; 0] = [];"),
            "{text}"
        );
        assert!(text.contains("static ROUTES: [codegen::Route; 0] = [];"));
        assert!(
            has(
                &text,
                "fn match_route(_host: &str, _path: &str, _method: codegen::Method) -> codegen::RouteMatch { codegen::RouteMatch::NotFound }"
            ),
            "{text}"
        );
        assert!(!text.contains("fn site_"));
    }

    #[test]
    fn only_an_any_host_skips_the_host_match() {
        let mut plan = sample_plan();
        plan.hosts.retain(|h| h.pattern == HostPattern::Any);
        let text = generated(&plan);
        let matcher = function(&text, "match_route");
        assert!(matcher.contains("_host: &str"), "{matcher}");
        assert!(matcher.contains("site_0(path, method)"), "{matcher}");
        assert!(!matcher.contains("match host"));
    }

    #[test]
    fn no_any_host_falls_back_to_not_found() {
        let mut plan = sample_plan();
        plan.hosts.retain(|h| h.pattern != HostPattern::Any);
        let text = generated(&plan);
        let matcher = function(&text, "match_route");
        assert!(
            has(matcher, "_ => codegen::RouteMatch::NotFound }"),
            "{matcher}"
        );
    }

    #[test]
    fn sanitized_names_are_identifiers() {
        assert_eq!(upper_snake("chat-completions"), "CHAT_COMPLETIONS");
        let mut names = ItemNames::default();
        assert_eq!(names.claim("SERVICE", "a-b"), "SERVICE_A_B");
        assert_eq!(names.claim("SERVICE", "a_b"), "SERVICE_A_B_2");
        assert_eq!(names.claim("SERVICE", "A_B"), "SERVICE_A_B_3");
    }
}
