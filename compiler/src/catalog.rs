//! The route catalog: which protocols each use case allows, and the default routes each pair brings.
//!
//! One table, shared by validation (is this protocol allowed, is it built
//! yet), lowering (which routes a Model API gets), `gatesmith routes` and the
//! docs. Pairs the product allows but this version cannot serve yet have
//! `routes: None`; validation reports them as unsupported rather than
//! silently serving nothing.

/// Use cases, as spelled in specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UseCase {
    TextGeneration,
    ImageGeneration,
    VideoGeneration,
    SpeechSynthesis,
    Embedding,
    Rerank,
    Others,
}

impl UseCase {
    pub const ALL: [UseCase; 7] = [
        UseCase::TextGeneration,
        UseCase::ImageGeneration,
        UseCase::VideoGeneration,
        UseCase::SpeechSynthesis,
        UseCase::Embedding,
        UseCase::Rerank,
        UseCase::Others,
    ];

    pub fn spec_name(self) -> &'static str {
        match self {
            UseCase::TextGeneration => "text-generation",
            UseCase::ImageGeneration => "image-generation",
            UseCase::VideoGeneration => "video-generation",
            UseCase::SpeechSynthesis => "speech-synthesis",
            UseCase::Embedding => "embedding",
            UseCase::Rerank => "rerank",
            UseCase::Others => "others",
        }
    }

    pub fn from_spec_name(name: &str) -> Option<UseCase> {
        UseCase::ALL.into_iter().find(|u| u.spec_name() == name)
    }
}

/// Client-facing protocols, as spelled in specs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// OpenAI-compatible (`OpenAI/v1`).
    OpenAi,
    Anthropic,
    /// Alibaba Cloud Model Studio native API.
    DashScope,
    ComfyUi,
    Vllm,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::OpenAi,
        Protocol::Anthropic,
        Protocol::DashScope,
        Protocol::ComfyUi,
        Protocol::Vllm,
    ];

    pub fn spec_name(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai",
            Protocol::Anthropic => "anthropic",
            Protocol::DashScope => "dashscope",
            Protocol::ComfyUi => "comfyui",
            Protocol::Vllm => "vllm",
        }
    }

    pub fn from_spec_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.spec_name() == name)
    }
}

/// What a route does at run time (mirrors `gatesmith_runtime::codegen::RouteKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteKind {
    ChatCompletions,
    Completions,
    Messages,
}

impl RouteKind {
    /// The variant name in `gatesmith_runtime::codegen::RouteKind`.
    pub fn runtime_variant(self) -> &'static str {
        match self {
            RouteKind::ChatCompletions => "ChatCompletions",
            RouteKind::Completions => "Completions",
            RouteKind::Messages => "Messages",
        }
    }
}

/// HTTP methods a route may accept, in the order `Allow` headers list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The constant name in `gatesmith_runtime::codegen::Methods`.
    pub fn runtime_const(self) -> &'static str {
        self.as_str()
    }
}

/// One default route of a use case + protocol pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogRoute {
    /// Stable name: appears in snapshots, metrics and response headers.
    pub name: &'static str,
    pub kind: RouteKind,
    /// Path below the Model API's base path.
    pub path: &'static str,
    pub methods: &'static [Method],
}

/// A use case + protocol pair the product allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    pub use_case: UseCase,
    pub protocol: Protocol,
    /// `None`: allowed by the product, not served by this version yet.
    pub routes: Option<&'static [CatalogRoute]>,
}

const POST: &[Method] = &[Method::Post];

const OPENAI_TEXT: &[CatalogRoute] = &[
    CatalogRoute {
        name: "chat-completions",
        kind: RouteKind::ChatCompletions,
        path: "/v1/chat/completions",
        methods: POST,
    },
    CatalogRoute {
        name: "completions",
        kind: RouteKind::Completions,
        path: "/v1/completions",
        methods: POST,
    },
];

const ANTHROPIC_TEXT: &[CatalogRoute] = &[CatalogRoute {
    name: "messages",
    kind: RouteKind::Messages,
    path: "/v1/messages",
    methods: POST,
}];

const fn entry(
    use_case: UseCase,
    protocol: Protocol,
    routes: Option<&'static [CatalogRoute]>,
) -> CatalogEntry {
    CatalogEntry {
        use_case,
        protocol,
        routes,
    }
}

/// Every allowed pair, in the product reference's order.
pub const CATALOG: &[CatalogEntry] = &[
    entry(UseCase::TextGeneration, Protocol::OpenAi, Some(OPENAI_TEXT)),
    entry(
        UseCase::TextGeneration,
        Protocol::Anthropic,
        Some(ANTHROPIC_TEXT),
    ),
    entry(UseCase::ImageGeneration, Protocol::DashScope, None),
    entry(UseCase::ImageGeneration, Protocol::OpenAi, None),
    entry(UseCase::ImageGeneration, Protocol::ComfyUi, None),
    entry(UseCase::VideoGeneration, Protocol::DashScope, None),
    entry(UseCase::SpeechSynthesis, Protocol::DashScope, None),
    entry(UseCase::SpeechSynthesis, Protocol::OpenAi, None),
    entry(UseCase::Embedding, Protocol::OpenAi, None),
    entry(UseCase::Rerank, Protocol::DashScope, None),
    entry(UseCase::Rerank, Protocol::Vllm, None),
    entry(UseCase::Others, Protocol::OpenAi, None),
];

/// The catalog entry for a pair, or `None` when the product does not allow it.
pub fn lookup(use_case: UseCase, protocol: Protocol) -> Option<&'static CatalogEntry> {
    CATALOG
        .iter()
        .find(|e| e.use_case == use_case && e.protocol == protocol)
}

/// The protocols a use case allows, in catalog order (for help messages).
pub fn protocols_for(use_case: UseCase) -> impl Iterator<Item = Protocol> {
    CATALOG
        .iter()
        .filter(move |e| e.use_case == use_case)
        .map(|e| e.protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_use_case_allows_at_least_one_protocol() {
        for use_case in UseCase::ALL {
            assert!(protocols_for(use_case).next().is_some(), "{use_case:?}");
        }
    }

    #[test]
    fn route_names_are_unique_within_each_pair() {
        for entry in CATALOG {
            let routes = entry.routes.unwrap_or_default();
            let mut names: Vec<_> = routes.iter().map(|r| r.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), routes.len(), "{entry:?}");
        }
    }

    #[test]
    fn spec_names_round_trip() {
        for u in UseCase::ALL {
            assert_eq!(UseCase::from_spec_name(u.spec_name()), Some(u));
        }
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_spec_name(p.spec_name()), Some(p));
        }
    }
}
