//! Semantic checks over the whole folder, reported all at once; success yields the proof type [`Valid`].
//!
//! Rules: unique names per kind; at most one Gateway; unique domain + base
//! path pairs across Model APIs; references resolve; protocol allowed (and
//! served) for the use case; base paths and domains well-formed; provider
//! settings consistent (`baseUrl`, `mock:`); env var names; `listen`
//! address; model services (`glob` syntax, duplicate and unreachable
//! `byModelName` rules, `byProportion` weights, `byMetrics` choice) and
//! fallback targets that can never be tried. Base paths are normalized in
//! place, so lowering reads them ready.

use std::collections::BTreeMap;

use crate::{
    ast::{
        AiService, ModelApi, ModelServiceSpec, RuleSpec, Spanned, Spec, TargetSpec, WeightedSpec,
    },
    catalog,
    diagnostic::{Code, Diagnostic, Diagnostics, closest_match},
    glob,
    ir::Provider,
    providers,
    source::Span,
};

/// A spec that passed every check of every stage. Only `validate` can make one.
#[derive(Debug)]
pub struct Valid(Spec);

impl Valid {
    /// The checked spec; base paths are normalized (`""` for `/`, no trailing `/`).
    pub fn spec(&self) -> &Spec {
        &self.0
    }
}

/// Runs every semantic rule; `Some` only when no stage reported an error.
pub fn validate(mut spec: Spec, diagnostics: &mut Diagnostics) -> Option<Valid> {
    // Usage warnings guess wrong when documents are missing because of errors.
    let complete = !diagnostics.has_errors();
    check_unique_names(&spec, diagnostics);
    check_gateways(&spec, diagnostics);
    check_services(&spec, diagnostics);
    for api in &mut spec.model_apis {
        check_protocol(api, diagnostics);
        check_domains(api, diagnostics);
        normalize_api_base_path(api, diagnostics);
        check_model_service(api, diagnostics);
        check_fallback(api, diagnostics);
    }
    check_domain_base_pairs(&spec, diagnostics);
    check_references(&spec, diagnostics);
    check_providers_serve(&spec, diagnostics);
    if complete {
        check_usage(&spec, diagnostics);
    }
    (!diagnostics.has_errors()).then_some(Valid(spec))
}

fn check_unique_names(spec: &Spec, diagnostics: &mut Diagnostics) {
    let mut report = |kind: &str, names: Vec<&Spanned<String>>| {
        let mut first: BTreeMap<&str, Span> = BTreeMap::new();
        for name in names {
            match first.get(name.value.as_str()) {
                Some(earlier) => diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateName,
                        format!("{kind} `{}` is defined twice", name.value),
                    )
                    .primary(name.span, "defined again here")
                    .secondary(*earlier, "first defined here")
                    .help(format!(
                        "rename one of them: {kind} names must be unique in a spec folder"
                    )),
                ),
                None => {
                    first.insert(&name.value, name.span);
                }
            }
        }
    };
    report("AIService", spec.services.iter().map(|s| &s.name).collect());
    report(
        "ModelAPI",
        spec.model_apis.iter().map(|a| &a.name).collect(),
    );
}

fn check_gateways(spec: &Spec, diagnostics: &mut Diagnostics) {
    if let Some((first, rest)) = spec.gateways.split_first() {
        for extra in rest {
            diagnostics.push(
                Diagnostic::new(
                    Code::MultipleGateways,
                    "a spec folder may hold only one Gateway",
                )
                .primary(extra.kind_span, "second Gateway")
                .secondary(first.kind_span, "first Gateway here")
                .help(
                    "merge the settings into one Gateway document; one folder is one environment",
                ),
            );
        }
    }
    for gateway in &spec.gateways {
        if let Some(listen) = &gateway.listen
            && listen.value.parse::<std::net::SocketAddr>().is_err()
        {
            diagnostics.push(
                Diagnostic::new(Code::InvalidListen, format!("invalid listen address `{}`", listen.value))
                    .primary(listen.span, "not an ip:port socket address")
                    .help("write an IP address and a port, e.g. `127.0.0.1:8080`, `0.0.0.0:8080` or `[::]:8080`"),
            );
        }
    }
}

fn check_services(spec: &Spec, diagnostics: &mut Diagnostics) {
    for service in &spec.services {
        let provider = service.provider.value;
        let facts = providers::facts(provider);
        match (provider, &service.base_url) {
            (_, None) if facts.needs_base_url() => {
                let needing: Vec<&str> = Provider::ALL
                    .into_iter()
                    .filter(|p| providers::facts(*p).needs_base_url())
                    .map(Provider::spec_name)
                    .collect();
                diagnostics.push(
                    Diagnostic::new(
                        Code::MissingBaseUrl,
                        format!(
                            "AIService `{}` uses provider `{}` but has no `baseUrl`",
                            service.name.value,
                            provider.spec_name()
                        ),
                    )
                    .primary(service.provider.span, "needs a `baseUrl`")
                    .help(format!(
                        "add `baseUrl:` with the upstream origin, without `/v1`, e.g. `baseUrl: {}`; these providers have no default and need one: {}",
                        base_url_example(provider),
                        needing.join(", ")
                    )),
                );
            }
            (Provider::Mock, Some(url)) => diagnostics.push(
                Diagnostic::new(
                    Code::BaseUrlForbidden,
                    format!("AIService `{}` is the built-in mock; it has no `baseUrl`", service.name.value),
                )
                .primary(url.span, "not used by the mock")
                .secondary(service.provider.span, "provider is `mock`")
                .help("remove `baseUrl`, or set a real provider such as `provider: openai-compatible` to call an endpoint"),
            ),
            (_, Some(url))
                if url.value.ends_with("/v1")
                    && !facts.endpoints.is_empty()
                    && facts.endpoints.iter().all(|e| e.path.starts_with("/v1/")) =>
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::BaseUrlEndsWithV1,
                        format!("baseUrl `{}` ends with `/v1`", url.value),
                    )
                    .primary(url.span, "requests would go to `/v1/v1/...`")
                    .help(format!(
                        "the upstream path already starts with `/v1`: write `{}`",
                        url.value.trim_end_matches("/v1")
                    )),
                )
            }
            _ => {}
        }
        check_provider_settings(service, diagnostics);
        if let Some(mock) = &service.mock
            && provider != Provider::Mock
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::MockSettingsForbidden,
                    format!(
                        "`mock:` settings on AIService `{}`, whose provider is `{}`",
                        service.name.value,
                        provider.spec_name()
                    ),
                )
                .primary(mock.span, "only for `provider: mock`")
                .secondary(service.provider.span, "provider set here")
                .help("remove the `mock:` block, or set `provider: mock`"),
            );
        }
        if let Some(env) = &service.api_key_env
            && !is_env_var_name(&env.value)
        {
            let suggestion: String = env
                .value
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let help = if looks_like_a_secret(&env.value) {
                "write the NAME of the environment variable that holds the key (e.g. `OPENAI_API_KEY`), never the key itself".to_string()
            } else {
                format!(
                    "environment variable names are upper-case letters, digits and `_`, e.g. `{suggestion}`"
                )
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidEnvVarName,
                    "`apiKey.env` is not an environment variable name",
                )
                .primary(env.span, "expected a name like `OPENAI_API_KEY`")
                .help(help),
            );
        }
    }
}

/// A plausible `baseUrl` for a provider, for help texts.
fn base_url_example(provider: Provider) -> &'static str {
    match provider {
        Provider::AzureOpenAi => "https://my-resource.openai.azure.com",
        Provider::Vllm => "http://vllm.internal:8000",
        Provider::ComfyUi => "http://comfyui.internal:8188",
        _ => providers::facts(provider)
            .default_base_url
            .unwrap_or("https://llm.example.com"),
    }
}

/// `azure:` and `dashscope:` only on their own provider (like `mock:`).
fn check_provider_settings(service: &AiService, diagnostics: &mut Diagnostics) {
    let provider = service.provider.value;
    let blocks = [
        (
            "azure",
            Provider::AzureOpenAi,
            service.azure.as_ref().map(|a| a.span),
        ),
        (
            "dashscope",
            Provider::DashScope,
            service.dashscope.as_ref().map(|d| d.span),
        ),
    ];
    for (key, owner, span) in blocks {
        if let Some(span) = span
            && provider != owner
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::ProviderSettingsForbidden,
                    format!(
                        "`{key}:` settings on AIService `{}`, whose provider is `{}`",
                        service.name.value,
                        provider.spec_name()
                    ),
                )
                .primary(span, format!("only for `provider: {}`", owner.spec_name()))
                .secondary(service.provider.span, "provider set here")
                .help(format!(
                    "remove the `{key}:` block, or set `provider: {}`",
                    owner.spec_name()
                )),
            );
        }
    }
}

fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Keys pasted where a variable name belongs (never echoed back in full).
fn looks_like_a_secret(value: &str) -> bool {
    value.starts_with("sk-") || (value.len() >= 20 && value.chars().any(|c| c.is_ascii_lowercase()))
}

fn check_protocol(api: &ModelApi, diagnostics: &mut Diagnostics) {
    let (use_case, protocol) = (api.use_case.value, api.protocol.value);
    let allowed: Vec<&str> = catalog::protocols_for(use_case)
        .map(|p| p.spec_name())
        .collect();
    match catalog::lookup(use_case, protocol) {
        None => diagnostics.push(
            Diagnostic::new(
                Code::ProtocolNotAllowed,
                format!(
                    "protocol `{}` is not allowed for use case `{}`",
                    protocol.spec_name(),
                    use_case.spec_name()
                ),
            )
            .primary(api.protocol.span, "not allowed for this use case")
            .secondary(api.use_case.span, "use case set here")
            .help(format!(
                "`{}` allows: {}",
                use_case.spec_name(),
                allowed.join(", ")
            )),
        ),
        Some(entry) if entry.routes.is_none() => {
            let served: Vec<String> = catalog::CATALOG
                .iter()
                .filter(|e| e.routes.is_some())
                .map(|e| format!("{} + {}", e.use_case.spec_name(), e.protocol.spec_name()))
                .collect();
            diagnostics.push(
                Diagnostic::new(
                    Code::ProtocolNotSupportedYet,
                    format!(
                        "use case `{}` with protocol `{}` is not supported by this version yet",
                        use_case.spec_name(),
                        protocol.spec_name()
                    ),
                )
                .primary(api.protocol.span, "allowed, but no routes exist for it yet")
                .secondary(api.use_case.span, "use case set here")
                .help(format!("this version serves: {}", served.join(", "))),
            );
        }
        Some(_) => {}
    }
}

fn check_model_service(api: &ModelApi, diagnostics: &mut Diagnostics) {
    match &api.model_service {
        ModelServiceSpec::Single(_) => {}
        ModelServiceSpec::ByModelName(rules) => check_rules(api, rules, diagnostics),
        ModelServiceSpec::ByProportion { entries, span } => {
            check_weights(api, entries, *span, diagnostics)
        }
        ModelServiceSpec::ByMetrics { targets, span, .. } if targets.len() < 2 => {
            diagnostics.push(
                Diagnostic::new(
                    Code::MetricsFewTargets,
                    format!(
                        "`byMetrics` of ModelAPI `{}` has {} target: there is nothing to choose between",
                        api.name.value,
                        targets.len()
                    ),
                )
                .primary(*span, "needs at least 2 targets to balance")
                .help("add another target, or use `single`"),
            );
        }
        ModelServiceSpec::ByMetrics { .. } => {}
    }
}

/// Invalid globs, exactly equal patterns (error) and unreachable rules (warning).
fn check_rules(api: &ModelApi, rules: &[RuleSpec], diagnostics: &mut Diagnostics) {
    let mut valid = true;
    for rule in rules {
        if let Err((problem, help)) = glob::check(&rule.pattern.value) {
            valid = false;
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidGlob,
                    format!("invalid model pattern `{}`: {problem}", rule.pattern.value),
                )
                .primary(rule.pattern.span, problem)
                .help(help),
            );
        }
    }
    let mut first: BTreeMap<&str, Span> = BTreeMap::new();
    for rule in rules {
        match first.get(rule.pattern.value.as_str()) {
            Some(earlier) => {
                valid = false;
                diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicatePattern,
                        format!(
                            "ModelAPI `{}` has two rules matching `{}`",
                            api.name.value, rule.pattern.value
                        ),
                    )
                    .primary(rule.pattern.span, "the same pattern again")
                    .secondary(*earlier, "first rule with this pattern")
                    .help("remove one of the rules: the second could never be chosen"),
                );
            }
            None => {
                first.insert(&rule.pattern.value, rule.pattern.span);
            }
        }
    }
    if !valid {
        return;
    }
    let patterns: Vec<&str> = rules.iter().map(|r| r.pattern.value.as_str()).collect();
    for shadowed in glob::shadowed(&patterns) {
        let (hidden, by) = (&rules[shadowed.unreachable], &rules[shadowed.by]);
        let why = if glob::is_exact(&by.pattern.value) {
            "exact patterns are tried first".to_string()
        } else if glob::literal_chars(&by.pattern.value)
            > glob::literal_chars(&hidden.pattern.value)
        {
            "patterns with more literal characters are tried first".to_string()
        } else {
            "with as many literal characters, the rule declared first is tried first".to_string()
        };
        diagnostics.push(
            Diagnostic::new(
                Code::UnreachableRule,
                format!(
                    "rule `{}` of ModelAPI `{}` is unreachable: every model it matches is matched by rule `{}` first",
                    hidden.pattern.value, api.name.value, by.pattern.value
                ),
            )
            .primary(hidden.pattern.span, "no model reaches this rule")
            .secondary(by.pattern.span, format!("this rule wins ({why})"))
            .help("remove the unreachable rule, or make its pattern more specific than the one that wins"),
        );
    }
}

fn check_weights(
    api: &ModelApi,
    entries: &[WeightedSpec],
    span: Span,
    diagnostics: &mut Diagnostics,
) {
    let sum: f64 = entries.iter().map(|e| e.weight.value).sum();
    if sum <= 0.0 {
        let mut diagnostic = Diagnostic::new(
            Code::ZeroWeightSum,
            format!(
                "the `byProportion` weights of ModelAPI `{}` sum to 0: no request could be served",
                api.name.value
            ),
        )
        .primary(span, "every weight is 0");
        for entry in entries {
            diagnostic = diagnostic.secondary(entry.weight.span, "weight 0");
        }
        diagnostics
            .push(diagnostic.help("give at least one target a weight above 0 (0 drains a target)"));
    }
}

/// A fallback target a request can never reach: a request never tries the
/// same `(service, model)` twice.
fn check_fallback(api: &ModelApi, diagnostics: &mut Diagnostics) {
    let primary = match &api.model_service {
        ModelServiceSpec::Single(target) => Some(target),
        _ => None,
    };
    for (index, target) in api.fallback.iter().enumerate() {
        let earlier: Option<(&TargetSpec, &str)> = primary
            .filter(|p| p.same_target(target))
            .map(|p| (p, "the primary target"))
            .or_else(|| {
                api.fallback[..index]
                    .iter()
                    .find(|f| f.same_target(target))
                    .map(|f| (f, "an earlier fallback"))
            });
        if let Some((earlier, what)) = earlier {
            diagnostics.push(
                Diagnostic::new(
                    Code::FallbackNeverTried,
                    format!(
                        "fallback {} of ModelAPI `{}` is never tried: a request never tries the same target twice",
                        target.describe(),
                        api.name.value
                    ),
                )
                .primary(target.span, "never tried")
                .secondary(earlier.span, format!("already tried as {what}"))
                .help("remove it, or give it another `model` so it is a different target"),
            );
        }
    }
}

fn check_domains(api: &ModelApi, diagnostics: &mut Diagnostics) {
    for domain in &api.domains {
        if let Err((problem, help)) = check_domain(&domain.value) {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidDomain,
                    format!("invalid domain `{}`: {problem}", domain.value),
                )
                .primary(domain.span, problem.clone())
                .help(help),
            );
        }
    }
}

/// An exact host, `*.suffix` or `*`: lower-case labels of letters, digits and `-`, no port.
pub fn check_domain(domain: &str) -> Result<(), (String, String)> {
    if domain == "*" {
        return Ok(());
    }
    if domain.chars().any(|c| c.is_ascii_uppercase()) {
        return Err((
            "host names are matched in lower case".into(),
            format!("write `{}`", domain.to_ascii_lowercase()),
        ));
    }
    if let Some((host, _)) = domain.rsplit_once(':')
        && !host.is_empty()
    {
        return Err((
            "domains have no port".into(),
            format!("hosts are matched ignoring the port: write `{host}`"),
        ));
    }
    if domain.contains("://") || domain.contains('/') {
        return Err((
            "a domain is a host name, not a URL".into(),
            "write only the host, e.g. `api.example.com`, and put any path in `basePath`".into(),
        ));
    }
    let host = domain.strip_prefix("*.").unwrap_or(domain);
    if host.contains('*') {
        return Err((
            "`*` is only allowed as a leading `*.` wildcard or alone".into(),
            "write `*.example.com` for every subdomain, or `*` for any host".into(),
        ));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if host.len() > 253 || !host.split('.').all(label_ok) {
        return Err((
            "not a valid host name".into(),
            "use labels of lower-case letters, digits and `-` separated by single dots, e.g. `api.example.com`".into(),
        ));
    }
    Ok(())
}

fn normalize_api_base_path(api: &mut ModelApi, diagnostics: &mut Diagnostics) {
    let Some(base) = &mut api.base_path else {
        return;
    };
    match normalize_base_path(&base.value) {
        Ok(normalized) => base.value = normalized,
        Err((problem, help)) => diagnostics.push(
            Diagnostic::new(
                Code::InvalidBasePath,
                format!("invalid basePath `{}`: {problem}", base.value),
            )
            .primary(base.span, problem)
            .help(help),
        ),
    }
}

/// `/` -> `""`; `/a/b/` -> `/a/b`; rejects what could make routing ambiguous.
pub fn normalize_base_path(path: &str) -> Result<String, (&'static str, String)> {
    if !path.starts_with('/') {
        return Err(("it must start with `/`", format!("write `/{path}`")));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.contains("//") {
        return Err((
            "it contains `//`",
            format!("use single slashes: `{}`", collapse_slashes(path)),
        ));
    }
    if trimmed.split('/').any(|s| s == ".." || s == ".") {
        return Err((
            "`.` and `..` segments are not allowed",
            "write the path without them".into(),
        ));
    }
    if trimmed
        .chars()
        .any(|c| matches!(c, '?' | '#' | '{' | '}' | '*') || c.is_whitespace() || c.is_control())
    {
        return Err((
            "`?`, `#`, `{`, `}`, `*` and spaces are not allowed",
            "a base path is a plain prefix such as `/llm/v2`; routes below it come from the catalog".into(),
        ));
    }
    Ok(trimmed.to_string())
}

fn collapse_slashes(path: &str) -> String {
    let mut out = String::new();
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

fn check_domain_base_pairs(spec: &Spec, diagnostics: &mut Diagnostics) {
    let mut claimed: BTreeMap<(&str, &str), (&str, Span)> = BTreeMap::new();
    for api in &spec.model_apis {
        let base = api.base_path.as_ref().map_or("", |b| b.value.as_str());
        for domain in &api.domains {
            match claimed.get(&(domain.value.as_str(), base)) {
                Some((owner, first)) if *owner != api.name.value => diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateDomainBase,
                        format!(
                            "domain `{}` with base path `{}` is claimed by two Model APIs: `{owner}` and `{}`",
                            domain.value,
                            if base.is_empty() { "/" } else { base },
                            api.name.value,
                        ),
                    )
                    .primary(domain.span, format!("claimed again by `{}`", api.name.value))
                    .secondary(*first, format!("first claimed by `{owner}`"))
                    .help("give one of them another `basePath` (e.g. `/v2`) or another domain"),
                ),
                Some(_) => {}
                None => {
                    claimed.insert((&domain.value, base), (&api.name.value, domain.span));
                }
            }
        }
    }
}

fn check_references(spec: &Spec, diagnostics: &mut Diagnostics) {
    let names: Vec<&str> = spec
        .services
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    for api in &spec.model_apis {
        for reference in api.service_references() {
            let name = reference.value.as_str();
            if names.contains(&name) || spec.rejected_has("AIService", name) {
                continue;
            }
            let help = match closest_match(name, names.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if names.is_empty() => {
                    "add an `AIService` document with this name".to_string()
                }
                None => format!(
                    "define it as an `AIService`, or use one of: {}",
                    names.join(", ")
                ),
            };
            diagnostics.push(
                Diagnostic::new(Code::UnknownService, format!("unknown AIService `{name}`"))
                    .primary(reference.span, "no AIService has this name")
                    .help(help),
            );
        }
    }
}

/// Every service a Model API names (in any mode or fallback) must be able to
/// serve its routes, natively or by conversion (mirror of the runtime's
/// `can_serve`): none of them is an error (E0219); some but not all is a
/// warning (W0207), because an OpenAI Model API always has the legacy
/// `completions` route, which only OpenAI-compatible upstreams serve, and
/// refusing `openai` clients on an `anthropic` service for that would forbid
/// the conversion users want. Reported once per (Model API, service), at the
/// first reference, listing every route it cannot serve.
fn check_providers_serve(spec: &Spec, diagnostics: &mut Diagnostics) {
    for api in &spec.model_apis {
        let Some(routes) =
            catalog::lookup(api.use_case.value, api.protocol.value).and_then(|e| e.routes)
        else {
            continue;
        };
        let mut reported: Vec<&str> = Vec::new();
        for reference in api.service_references() {
            let name = reference.value.as_str();
            let Some(service) = spec.services.iter().find(|s| s.name.value == name) else {
                continue;
            };
            if reported.contains(&name) {
                continue;
            }
            let provider = service.provider.value;
            let unserved: Vec<_> = routes
                .iter()
                .filter(|r| !providers::can_serve(provider, api.protocol.value, r.kind))
                .collect();
            if unserved.is_empty() {
                continue;
            }
            reported.push(name);
            let route_names: Vec<String> =
                unserved.iter().map(|r| format!("`{}`", r.name)).collect();
            let alternatives: Vec<String> = unserved
                .iter()
                .map(|r| {
                    let serving: Vec<&str> =
                        providers::providers_serving(api.protocol.value, r.kind)
                            .into_iter()
                            .map(Provider::spec_name)
                            .collect();
                    format!("`{}` can be served by: {}", r.name, serving.join(", "))
                })
                .collect();
            let routes_text = format!(
                "route{} {}",
                if unserved.len() == 1 { "" } else { "s" },
                route_names.join(", ")
            );
            if unserved.len() < routes.len() {
                diagnostics.push(
                    Diagnostic::new(
                        Code::RouteNotServed,
                        format!(
                            "ModelAPI `{}` ({} protocol) {routes_text} cannot be served by AIService `{name}` (provider `{}`)",
                            api.name.value,
                            api.protocol.value.spec_name(),
                            provider.spec_name()
                        ),
                    )
                    .primary(reference.span, format!("requests on {routes_text} sent here fail"))
                    .secondary(service.provider.span, "provider set here")
                    .help(format!(
                        "{}; the other routes are served (natively or by conversion)",
                        alternatives.join("; ")
                    )),
                );
                continue;
            }
            diagnostics.push(
                Diagnostic::new(
                    Code::ProviderCannotServe,
                    format!(
                        "ModelAPI `{}` ({} protocol) {routes_text} cannot be served by AIService `{name}` (provider `{}`), natively or by conversion",
                        api.name.value,
                        api.protocol.value.spec_name(),
                        provider.spec_name()
                    ),
                )
                .primary(reference.span, format!("provider `{}` cannot serve this", provider.spec_name()))
                .secondary(service.provider.span, "provider set here")
                .help(format!(
                    "{}; point this Model API at such a service, or change its protocol",
                    alternatives.join("; ")
                )),
            );
        }
    }
}

/// Runs only on otherwise error-free specs, where no document is missing.
fn check_usage(spec: &Spec, diagnostics: &mut Diagnostics) {
    if spec.model_apis.is_empty() {
        diagnostics.push(
            Diagnostic::new(Code::NoModelApis, "this spec folder has no ModelAPI")
                .help("add a `kind: ModelAPI` document; without one the gateway answers 404 to every request"),
        );
    }
    for service in &spec.services {
        let used = spec
            .model_apis
            .iter()
            .flat_map(|a| a.service_references())
            .any(|r| r.value == service.name.value);
        if !used {
            diagnostics.push(
                Diagnostic::new(
                    Code::UnusedService,
                    format!(
                        "AIService `{}` is not used by any ModelAPI",
                        service.name.value
                    ),
                )
                .primary(service.name.span, "never referenced")
                .help("reference it from a ModelAPI's `modelService` or `fallback`, or remove it"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ast,
        diagnostic::Severity,
        schema,
        source::{SourceFile, SpecFolder},
        syntax,
    };

    fn folder(display: &str, files: &[(&str, &str)]) -> SpecFolder {
        SpecFolder {
            display: display.into(),
            files: files
                .iter()
                .map(|(name, text)| SourceFile {
                    name: (*name).into(),
                    text: (*text).into(),
                })
                .collect(),
        }
    }

    fn run(files: &[(&str, &str)]) -> (Option<Valid>, Diagnostics) {
        let folder = folder("specs/t", files);
        let mut diagnostics = Diagnostics::default();
        let documents = syntax::parse(&folder, &mut diagnostics);
        schema::check(&documents, &mut diagnostics);
        let spec = ast::build(&documents, &mut diagnostics);
        let valid = validate(spec, &mut diagnostics);
        (valid, diagnostics)
    }

    fn codes(files: &[(&str, &str)]) -> Vec<Code> {
        run(files).1.codes()
    }

    const MOCK: &str = "kind: AIService\nname: mock\nprovider: mock\n";

    fn api(name: &str, domains: &str, extra: &str) -> String {
        format!(
            "kind: ModelAPI\nname: {name}\nuseCase: text-generation\nprotocol: openai\ndomains: {domains}\n{extra}modelService:\n  single: {{ service: mock }}\n"
        )
    }

    fn with_mock(api: &str) -> String {
        format!("{MOCK}---\n{api}")
    }

    #[test]
    fn a_clean_spec_is_valid_without_diagnostics() {
        let (valid, diagnostics) = run(&[("a.yaml", &with_mock(&api("chat", "[\"*\"]", "")))]);
        assert!(valid.is_some());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn duplicate_names_point_at_both_definitions_across_files() {
        let (valid, diagnostics) = run(&[
            ("a.yaml", &with_mock(&api("chat", "[\"*\"]", ""))),
            ("b.yaml", MOCK),
        ]);
        assert!(valid.is_none());
        let d = &diagnostics.items[0];
        assert_eq!(d.code, Code::DuplicateName);
        assert_eq!(d.labels.len(), 2);
        assert_eq!(d.labels[0].span.file, 1);
        assert_eq!(d.labels[1].span.file, 0);
        assert_eq!(d.labels[1].message, "first defined here");
    }

    #[test]
    fn domain_base_pairs_are_unique_after_normalization() {
        let text = format!(
            "{}---\n{}",
            with_mock(&api("a", "[x.com]", "basePath: /llm\n")),
            api("b", "[x.com]", "basePath: /llm/\n")
        );
        let (_, diagnostics) = run(&[("a.yaml", &text)]);
        assert_eq!(diagnostics.codes(), vec![Code::DuplicateDomainBase]);
        assert!(
            diagnostics.items[0]
                .message
                .contains("two Model APIs: `a` and `b`")
        );
        // Same domain, different bases; or same base, different domains: fine.
        let text = format!(
            "{}---\n{}",
            with_mock(&api("a", "[x.com]", "basePath: /llm\n")),
            api("b", "[x.com, \"*.x.com\"]", "")
        );
        assert!(codes(&[("a.yaml", &text)]).is_empty());
    }

    #[test]
    fn unknown_services_suggest_the_closest_name() {
        let text =
            with_mock(&api("chat", "[\"*\"]", "")).replace("service: mock }", "service: mokc }");
        let (_, diagnostics) = run(&[("a.yaml", &text)]);
        let d = diagnostics
            .items
            .iter()
            .find(|d| d.code == Code::UnknownService)
            .unwrap();
        assert_eq!(d.help.as_deref(), Some("did you mean `mock`?"));
    }

    #[test]
    fn references_to_services_rejected_by_the_schema_are_not_reported_again() {
        let text =
            with_mock(&api("chat", "[\"*\"]", "")).replace("provider: mock", "provider: mokc");
        assert_eq!(codes(&[("a.yaml", &text)]), vec![Code::NotOneOf]);
    }

    #[test]
    fn protocols_are_checked_against_the_catalog() {
        let text =
            with_mock(&api("chat", "[\"*\"]", "")).replace("protocol: openai", "protocol: vllm");
        let (_, diagnostics) = run(&[("a.yaml", &text)]);
        assert_eq!(diagnostics.codes(), vec![Code::ProtocolNotAllowed]);
        assert_eq!(
            diagnostics.items[0].help.as_deref(),
            Some("`text-generation` allows: openai, anthropic")
        );
        let text = with_mock(&api("chat", "[\"*\"]", "")).replace("text-generation", "rerank");
        let text = text.replace("protocol: openai", "protocol: vllm");
        assert_eq!(
            codes(&[("a.yaml", &text)]),
            vec![Code::ProtocolNotSupportedYet]
        );
    }

    #[test]
    fn base_paths_are_normalized_and_checked() {
        assert_eq!(normalize_base_path("/").unwrap(), "");
        assert_eq!(normalize_base_path("/a/b/").unwrap(), "/a/b");
        for bad in [
            "a", "/a//b", "/a/../b", "/./a", "/a?x", "/a#b", "/{id}", "/a*", "/a b",
        ] {
            assert!(normalize_base_path(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_base_path("llm").unwrap_err().1, "write `/llm`");
    }

    #[test]
    fn domains_are_checked() {
        for good in [
            "*",
            "api.example.com",
            "*.example.com",
            "localhost",
            "10.0.0.1",
            "a-b.c",
        ] {
            assert!(check_domain(good).is_ok(), "{good}");
        }
        for bad in [
            "Api.x.com",
            "x.com:8080",
            "a.*.com",
            "*x.com",
            "-a.com",
            "a..b",
            "https://x.com",
            "x.com.",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_domain("API.x.com").unwrap_err().1,
            "write `api.x.com`"
        );
    }

    #[test]
    fn provider_settings_must_fit_the_provider() {
        let vllm = "kind: AIService\nname: mock\nprovider: vllm\n";
        let text = with_mock(&api("chat", "[\"*\"]", "")).replace(MOCK, vllm);
        assert_eq!(codes(&[("a.yaml", &text)]), vec![Code::MissingBaseUrl]);
        // Providers with a default base URL need none.
        for provider in ["openai", "dashscope", "deepseek", "ollama"] {
            let text = text.replace("provider: vllm", &format!("provider: {provider}"));
            assert_eq!(codes(&[("a.yaml", &text)]), vec![], "{provider}");
        }
        for provider in ["azure-openai", "comfyui", "openai-compatible"] {
            let text = text.replace("provider: vllm", &format!("provider: {provider}"));
            assert!(
                codes(&[("a.yaml", &text)]).contains(&Code::MissingBaseUrl),
                "{provider}"
            );
        }
        let openai = vllm;
        let text = text.replace(
            openai,
            &format!(
                "{openai}baseUrl: https://h\nmock: {{ latencyMs: 1 }}\napiKey: {{ env: sk-abc }}\n"
            ),
        );
        assert_eq!(
            codes(&[("a.yaml", &text)]),
            vec![Code::MockSettingsForbidden, Code::InvalidEnvVarName]
        );
        let text = with_mock(&api("chat", "[\"*\"]", ""))
            .replace(MOCK, &format!("{MOCK}baseUrl: https://h\n"));
        assert_eq!(codes(&[("a.yaml", &text)]), vec![Code::BaseUrlForbidden]);
    }

    #[test]
    fn warnings_do_not_block_validity() {
        let text = format!(
            "{}---\nkind: AIService\nname: spare\nprovider: openai\nbaseUrl: https://h/v1\n",
            with_mock(&api("chat", "[\"*\"]", ""))
        );
        let (valid, diagnostics) = run(&[("a.yaml", &text)]);
        assert!(valid.is_some());
        assert_eq!(
            diagnostics.codes(),
            vec![Code::UnusedService, Code::BaseUrlEndsWithV1]
        );
        assert!(
            diagnostics
                .items
                .iter()
                .all(|d| d.severity == Severity::Warning)
        );
    }

    #[test]
    fn gateway_rules() {
        let gateway = "kind: Gateway\nname: a\nlisten: 0.0.0.0:80\n";
        let spec = with_mock(&api("chat", "[\"*\"]", ""));
        assert!(codes(&[("a.yaml", gateway), ("b.yaml", &spec)]).is_empty());
        assert_eq!(
            codes(&[
                ("a.yaml", gateway),
                ("b.yaml", &format!("{spec}---\n{gateway}"))
            ]),
            vec![Code::MultipleGateways]
        );
        let bad = gateway.replace("0.0.0.0:80", "localhost:80");
        assert_eq!(
            codes(&[("a.yaml", &bad), ("b.yaml", &spec)]),
            vec![Code::InvalidListen]
        );
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let apis = format!(
            "{}---\n{}",
            api("chat", "[API.x.com]", "basePath: llm\n"),
            api("other", "[\"*\"]", "").replace("service: mock", "service: nope")
        );
        let services = "kind: AIService\nname: up\nprovider: vllm\n---\nkind: AIService\nname: mock\nprovider: mock\nlatency: 5\n";
        let found = codes(&[("apis.yaml", &apis), ("services.yaml", services)]);
        for code in [
            Code::UnknownField,
            Code::UnknownService,
            Code::InvalidBasePath,
            Code::InvalidDomain,
            Code::MissingBaseUrl,
        ] {
            assert!(found.contains(&code), "{code:?} missing from {found:?}");
        }
    }

    #[test]
    fn azure_and_dashscope_settings_belong_to_their_provider() {
        let service = |provider: &str, settings: &str| {
            with_mock(&api("chat", "[\"*\"]", "")).replace(
                MOCK,
                &format!("kind: AIService\nname: mock\nprovider: {provider}\nbaseUrl: https://h\n{settings}"),
            )
        };
        let azure = "azure: { apiVersion: \"2024-06-01\" }\n";
        let dashscope = "dashscope: { api: native }\n";
        assert_eq!(
            codes(&[("a.yaml", &service("azure-openai", azure))]),
            vec![]
        );
        assert_eq!(
            codes(&[("a.yaml", &service("dashscope", dashscope))]),
            vec![]
        );
        assert_eq!(
            codes(&[("a.yaml", &service("openai", azure))]),
            vec![Code::ProviderSettingsForbidden]
        );
        let both = format!("{azure}{dashscope}defaultMaxTokens: 1000\n");
        let (_, diagnostics) = run(&[("a.yaml", &service("vllm", &both))]);
        let messages: Vec<&str> = diagnostics
            .items
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "`azure:` settings on AIService `mock`, whose provider is `vllm`",
                "`dashscope:` settings on AIService `mock`, whose provider is `vllm`"
            ]
        );
        // The schema rejects malformed settings before validation.
        let bad_version = service("azure-openai", "azure: { apiVersion: latest }\n");
        assert!(!codes(&[("a.yaml", &bad_version)]).is_empty());
    }

    #[test]
    fn services_must_serve_the_model_api_routes_they_are_named_for() {
        let spec = |protocol: &str, provider: &str| {
            format!(
                "kind: AIService\nname: up\nprovider: {provider}\nbaseUrl: https://h\n---\n{MOCK}---\nkind: ModelAPI\nname: chat\nuseCase: text-generation\nprotocol: {protocol}\ndomains: [\"*\"]\nmodelService:\n  single: {{ service: mock }}\nfallback:\n  - {{ service: up }}\n  - {{ service: up, model: other }}\n"
            )
        };
        // ComfyUI serves no text route: an error, once per (Model API, service).
        let (valid, diagnostics) = run(&[("a.yaml", &spec("openai", "comfyui"))]);
        assert!(valid.is_none());
        let errors: Vec<&Diagnostic> = diagnostics
            .items
            .iter()
            .filter(|d| d.code == Code::ProviderCannotServe)
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("ModelAPI `chat`"));
        assert!(
            errors[0]
                .message
                .contains("`chat-completions`, `completions`")
        );
        assert!(
            errors[0]
                .message
                .contains("AIService `up` (provider `comfyui`)")
        );
        let help = errors[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("`completions` can be served by: openai, azure-openai, dashscope, vllm, deepseek, ollama, openai-compatible, mock"), "{help}");
        assert_eq!(
            codes(&[("a.yaml", &spec("anthropic", "comfyui"))]),
            vec![Code::ProviderCannotServe]
        );
        // Chat converts, legacy completions cannot: a warning, not an error.
        for provider in ["anthropic", "moonshot", "zhipu"] {
            let (valid, diagnostics) = run(&[("a.yaml", &spec("openai", provider))]);
            assert!(valid.is_some(), "{provider}");
            let found: Vec<Code> = diagnostics.items.iter().map(|d| d.code).collect();
            assert_eq!(found, vec![Code::RouteNotServed], "{provider}");
        }
        // Every text provider serves Anthropic messages, natively or converted.
        for provider in [
            "openai",
            "azure-openai",
            "anthropic",
            "vllm",
            "zhipu",
            "openai-compatible",
        ] {
            assert_eq!(
                codes(&[("a.yaml", &spec("anthropic", provider))]),
                vec![],
                "{provider}"
            );
        }
    }

    fn api_with(model_service: &str, extra: &str) -> String {
        format!(
            "{MOCK}---\nkind: AIService\nname: other\nprovider: mock\n---\nkind: ModelAPI\nname: chat\nuseCase: text-generation\nprotocol: openai\ndomains: [\"*\"]\nmodelService:\n{model_service}{extra}"
        )
    }

    #[test]
    fn unknown_services_are_found_in_every_mode_and_in_fallback() {
        for mode in [
            "  byModelName:\n    - { match: \"a*\", service: mock }\n    - { match: \"*\", service: nope }\n",
            "  byProportion:\n    - { service: mock, weight: 1 }\n    - { service: nope, weight: 1 }\n",
            "  byMetrics: { targets: [ { service: mock }, { service: nope } ] }\n",
        ] {
            let text = api_with(mode, "fallback: [ { service: other } ]\n");
            assert_eq!(
                codes(&[("a.yaml", &text)]),
                vec![Code::UnknownService],
                "{mode}"
            );
        }
        let text = api_with(
            "  single: { service: mock }\n",
            "fallback: [ { service: other }, { service: nope } ]\n",
        );
        assert_eq!(codes(&[("a.yaml", &text)]), vec![Code::UnknownService]);
        // A service used only as a fallback is used.
        let text = api_with(
            "  single: { service: mock }\n",
            "fallback: [ { service: other } ]\n",
        );
        assert!(codes(&[("a.yaml", &text)]).is_empty());
    }

    #[test]
    fn weights_are_non_negative_and_must_not_all_be_zero() {
        let negative = api_with(
            "  byProportion:\n    - { service: mock, weight: -1 }\n    - { service: other, weight: 1 }\n",
            "",
        );
        assert_eq!(codes(&[("a.yaml", &negative)]), vec![Code::OutOfLimits]);
        let zero = api_with(
            "  byProportion:\n    - { service: mock, weight: 0 }\n    - { service: other, weight: 0 }\n",
            "",
        );
        assert_eq!(codes(&[("a.yaml", &zero)]), vec![Code::ZeroWeightSum]);
        let drained = zero.replacen("weight: 0 }", "weight: 0.5 }", 1);
        assert!(codes(&[("a.yaml", &drained)]).is_empty());
    }

    #[test]
    fn a_model_service_has_exactly_one_mode() {
        let two = api_with(
            "  single: { service: mock }\n  byMetrics: { targets: [ { service: other } ] }\n",
            "",
        );
        let (_, diagnostics) = run(&[("a.yaml", &two)]);
        assert_eq!(diagnostics.codes(), vec![Code::OutOfLimits]);
        assert!(
            diagnostics.items[0]
                .message
                .contains("`modelService` takes exactly one of:"),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn glob_errors_and_warnings_are_all_reported_at_once() {
        let rules = "  byModelName:\n    - { match: \"*\", service: mock }\n    - { match: \"a b\", service: other }\n    - { match: \"x*\", service: other }\n    - { match: \"x*\", service: mock }\n";
        let found = codes(&[("a.yaml", &api_with(rules, ""))]);
        assert_eq!(found, vec![Code::DuplicatePattern, Code::InvalidGlob]);
        // Without errors, shadowing is reported naming both rules.
        let rules = "  byModelName:\n    - { match: \"*\", service: mock }\n    - { match: \"?*\", service: other }\n";
        let (valid, diagnostics) = run(&[("a.yaml", &api_with(rules, ""))]);
        assert!(valid.is_some());
        assert_eq!(diagnostics.codes(), vec![Code::UnreachableRule]);
        let d = &diagnostics.items[0];
        assert!(d.message.contains("rule `?*`") && d.message.contains("rule `*`"));
        assert_eq!(d.labels.len(), 2);
    }

    #[test]
    fn fallback_repeats_and_lonely_metrics_are_warnings() {
        let text = api_with(
            "  single: { service: mock, model: m }\n",
            "fallback: [ { service: mock, model: m }, { service: mock }, { service: other }, { service: other } ]\n",
        );
        let (valid, diagnostics) = run(&[("a.yaml", &text)]);
        assert!(valid.is_some());
        let never_tried: Vec<&str> = diagnostics
            .items
            .iter()
            .filter(|d| d.code == Code::FallbackNeverTried)
            .map(|d| d.labels[1].message.as_str())
            .collect();
        assert_eq!(
            never_tried,
            [
                "already tried as the primary target",
                "already tried as an earlier fallback"
            ]
        );
        let text = api_with(
            "  byMetrics: { targets: [ { service: mock } ] }\n",
            "fallback: [ { service: other } ]\n",
        );
        assert_eq!(codes(&[("a.yaml", &text)]), vec![Code::MetricsFewTargets]);
    }

    /// The fixture folders: `specs/invalid/<CODE>-*` yield `<CODE>`; valid ones yield no error.
    mod fixtures {
        use super::*;
        use std::path::{Path, PathBuf};

        fn specs_dir() -> PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs")
        }

        fn read(dir: &Path, display: &str) -> SpecFolder {
            let mut files: Vec<SourceFile> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .map(|p| SourceFile {
                    name: p.file_name().unwrap().to_string_lossy().into_owned(),
                    text: std::fs::read_to_string(&p).unwrap(),
                })
                .collect();
            files.sort_by(|a, b| a.name.cmp(&b.name));
            SpecFolder {
                display: display.into(),
                files,
            }
        }

        fn folders(group: &str) -> Vec<(String, SpecFolder)> {
            let mut found: Vec<(String, SpecFolder)> = std::fs::read_dir(specs_dir().join(group))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_dir())
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    let folder = read(&p, &format!("specs/{group}/{name}"));
                    (name, folder)
                })
                .collect();
            found.sort_by(|a, b| a.0.cmp(&b.0));
            found
        }

        fn diagnose(folder: &SpecFolder) -> Diagnostics {
            match crate::check(folder) {
                Ok((valid, warnings)) => {
                    // Lowering must be total on everything that validates.
                    let plan = crate::lower::lower(&valid, &folder.display);
                    assert!(!plan.routes.is_empty() || plan.model_apis.is_empty());
                    warnings
                }
                Err(diagnostics) => diagnostics,
            }
        }

        #[test]
        fn each_invalid_folder_yields_the_code_in_its_name() {
            let invalid = folders("invalid");
            let mut covered = Vec::new();
            for (name, folder) in &invalid {
                assert!(!folder.files.is_empty(), "{name} has no files");
                let diagnostics = diagnose(folder);
                let rendered = crate::diagnostic::render(&diagnostics, folder, false);
                if name == "several-mistakes" {
                    assert!(diagnostics.codes().len() >= 4, "{rendered}");
                    assert!(folder.files.len() >= 2);
                    continue;
                }
                let code = name.split('-').next().unwrap();
                let found: Vec<&str> = diagnostics.codes().iter().map(|c| c.as_str()).collect();
                assert!(
                    found.contains(&code),
                    "{name} yields {found:?}:\n{rendered}"
                );
                covered.push(code.to_string());
            }
            for code in Code::ALL {
                assert!(
                    covered.contains(&code.as_str().to_string()),
                    "no fixture for {code:?}"
                );
            }
        }

        #[test]
        fn valid_folders_and_the_quickstart_yield_no_error() {
            let mut all = folders("valid");
            all.push((
                "quickstart".into(),
                read(&specs_dir().join("quickstart"), "specs/quickstart"),
            ));
            assert!(all.len() >= 4);
            for (name, folder) in &all {
                let diagnostics = diagnose(folder);
                let rendered = crate::diagnostic::render(&diagnostics, folder, false);
                assert!(diagnostics.is_empty(), "{name}:\n{rendered}");
            }
        }

        #[test]
        fn every_fixture_file_starts_with_the_schema_modeline() {
            for group in ["valid", "invalid"] {
                for (name, folder) in folders(group) {
                    for file in &folder.files {
                        assert!(
                            file.text.starts_with("# yaml-language-server: $schema=../../../schema/gatesmith.schema.json\n"),
                            "{name}/{}",
                            file.name
                        );
                    }
                }
            }
        }
    }
}
