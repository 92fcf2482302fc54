//! Emits a Model API's `model_service` value and, for `byModelName`, its rule table and compiled `select_*` function.
//!
//! Globs become plain string tests at build time (no glob engine at run
//! time): exact patterns one `match` arm each, then the globs in precedence
//! order (see `glob`), each the cheapest test of its [`Shape`]: `*` alone
//! always matches, `p*` is `starts_with`, `*s` is `ends_with`, `p*s` checks
//! the length then both ends, and anything else calls
//! `codegen::glob_matches` with the pattern split on `*`. A rule after a `*`
//! in precedence order is unreachable (warned about) and emits nothing, so
//! the generated code has no dead branches. `select_*` returns the winning
//! rule's DECLARATION index, the index `RULES_*` and logs use.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;

use crate::emit::{ItemNames, doc_text, emit_target, num};
use crate::glob::{self, Shape};
use crate::ir::{MetricsBalance, ModelApi, ModelService, Objective};

/// The item names a `byModelName` Model API needs.
pub(crate) struct Selector {
    /// `const RULES_<API>: [codegen::ModelRule; N]`.
    rules: Ident,
    /// `fn select_<api>(model: &str) -> Option<u16>`.
    select: Ident,
}

impl Selector {
    /// Claims the names, for `byModelName` APIs only.
    pub(crate) fn name(api: &ModelApi, names: &mut ItemNames) -> Option<Selector> {
        matches!(api.model_service, ModelService::ByModelName(_)).then(|| Selector {
            rules: names.claim("RULES", &api.name),
            select: names.claim_fn("select", &api.name),
        })
    }
}

/// The `codegen::ModelService` expression of a Model API.
pub(crate) fn emit_model_service(
    service: &ModelService,
    selector: Option<&Selector>,
) -> TokenStream {
    match (service, selector) {
        (ModelService::Single(target), _) => {
            let target = emit_target(target);
            quote!(codegen::ModelService::Single(#target))
        }
        (ModelService::ByModelName(_), Some(Selector { rules, select })) => quote! {
            codegen::ModelService::ByModelName {
                rules: &#rules,
                select: #select,
            }
        },
        // `Selector::name` claims names for every `byModelName` API.
        (ModelService::ByModelName(_), None) => {
            unreachable!("byModelName without a selector")
        }
        (ModelService::ByProportion(entries), _) => {
            let entries = entries.iter().map(|entry| {
                let target = emit_target(&entry.target);
                let weight = Literal::f64_unsuffixed(entry.weight);
                quote! {
                    codegen::WeightedTarget {
                        target: #target,
                        weight: #weight,
                    }
                }
            });
            quote!(codegen::ModelService::ByProportion(&[#(#entries),*]))
        }
        (ModelService::ByMetrics(balance), _) => {
            let balance = emit_metrics_balance(balance);
            quote!(codegen::ModelService::ByMetrics(#balance))
        }
    }
}

fn emit_metrics_balance(balance: &MetricsBalance) -> TokenStream {
    let targets = balance.targets.iter().map(emit_target);
    let objective = match balance.objective {
        Objective::Latency => quote!(Latency),
        Objective::FirstTokenLatency => quote!(FirstTokenLatency),
        Objective::LeastBusy => quote!(LeastBusy),
    };
    let decay_ms = num(balance.decay_ms);
    quote! {
        codegen::MetricsBalance {
            targets: &[#(#targets),*],
            objective: codegen::Objective::#objective,
            decay_ms: #decay_ms,
        }
    }
}

/// The rule table and the `select_*` function of a `byModelName` Model API.
pub(crate) fn emit_selector(api: &ModelApi, selector: &Selector) -> Option<TokenStream> {
    let ModelService::ByModelName(rules) = &api.model_service else {
        return None;
    };
    let Selector {
        rules: table,
        select,
    } = selector;
    let len = Literal::usize_unsuffixed(rules.len());
    let table_doc = doc_text(&format!(
        "`byModelName` rules of ModelAPI `{}` ({}), in declaration order.",
        api.name, api.file
    ));
    let rows = rules.iter().map(|rule| {
        let pattern = &rule.pattern;
        let target = emit_target(&rule.target);
        quote! {
            codegen::ModelRule {
                pattern: #pattern,
                target: #target,
            }
        }
    });

    let patterns: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
    let order = glob::precedence_order(&patterns);
    let mut exact_arms = Vec::new();
    let mut tests = Vec::new();
    let mut catch_all = None;
    for &index in &order {
        let result = Literal::u16_unsuffixed(u16::try_from(index).unwrap_or(u16::MAX));
        let test = match glob::shape(&rules[index].pattern) {
            Shape::Exact(text) => {
                exact_arms.push(quote!(#text => return Some(#result),));
                continue;
            }
            Shape::Any => {
                catch_all = Some(result);
                break;
            }
            Shape::Prefix(prefix) => quote!(model.starts_with(#prefix)),
            Shape::Suffix(suffix) => quote!(model.ends_with(#suffix)),
            Shape::PrefixSuffix(prefix, suffix) => {
                let min_len = Literal::usize_unsuffixed(prefix.len() + suffix.len());
                quote!(model.len() >= #min_len && model.starts_with(#prefix) && model.ends_with(#suffix))
            }
            Shape::Parts(parts) => quote!(codegen::glob_matches(model, &[#(#parts),*])),
        };
        tests.push(quote! {
            if #test {
                return Some(#result);
            }
        });
    }
    let exact = (!exact_arms.is_empty()).then(|| {
        quote! {
            match model {
                #(#exact_arms)*
                _ => {}
            }
        }
    });
    let end = match catch_all {
        Some(result) => quote!(Some(#result)),
        None => quote!(None),
    };
    let model = if exact.is_none() && tests.is_empty() {
        quote!(_model)
    } else {
        quote!(model)
    };
    let mut select_doc = vec![
        doc_text(&format!(
            "Model-name rule of ModelAPI `{}` ({}) for a request's model: the winning rule's index in `{table}`.",
            api.name, api.file
        )),
        doc_text(
            "Tried in precedence order (exact, then more literal characters, then declaration order):",
        ),
    ];
    select_doc.extend(
        order
            .iter()
            .map(|&index| doc_text(&format!("- rule {index}: `{}`", rules[index].pattern))),
    );
    Some(quote! {
        #[doc = #table_doc]
        const #table: [codegen::ModelRule; #len] = [#(#rows),*];
        #(#[doc = #select_doc])*
        fn #select(#model: &str) -> Option<u16> {
            #exact
            #(#tests)*
            #end
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::emit::tests::sample_plan;
    use crate::ir::{
        MetricsBalance, ModelRule, ModelService, Objective, Plan, Target, WeightedTarget,
    };

    fn target(service: u16, model: Option<&str>) -> Target {
        Target {
            service,
            model: model.map(str::to_owned),
        }
    }

    fn rules(patterns: &[&str]) -> ModelService {
        ModelService::ByModelName(
            patterns
                .iter()
                .enumerate()
                .map(|(i, pattern)| ModelRule {
                    pattern: (*pattern).to_owned(),
                    target: target(u16::from(i % 2 == 1), None),
                })
                .collect(),
        )
    }

    fn plan_with(service: ModelService) -> Plan {
        let mut plan = sample_plan();
        plan.model_apis[0].model_service = service;
        plan
    }

    fn generated(plan: &Plan) -> String {
        crate::format::format(crate::emit::emit(plan), plan)
    }

    fn compact(code: &str) -> String {
        code.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .replace(",}", "}")
            .replace(",)", ")")
            .replace(",]", "]")
    }

    fn select_fn(text: &str) -> String {
        let start = text.find("fn select_chat(").expect("select_chat");
        let end = text[start..].find("\n}\n").expect("end");
        compact(&text[start..start + end])
    }

    #[test]
    fn the_reference_globs_compile_to_tests_in_precedence_order() {
        let text = generated(&plan_with(rules(&[
            "qwen*",
            "*",
            "claude-*",
            "claude-3-5-sonnet-latest",
            "claude-3-5-*",
        ])));
        assert_eq!(
            select_fn(&text),
            compact(
                "fn select_chat(model: &str) -> Option<u16> {
                    match model { \"claude-3-5-sonnet-latest\" => return Some(3), _ => {} }
                    if model.starts_with(\"claude-3-5-\") { return Some(4); }
                    if model.starts_with(\"claude-\") { return Some(2); }
                    if model.starts_with(\"qwen\") { return Some(0); }
                    Some(1)"
            )
        );
        assert!(compact(&text).contains(&compact(
            "model_service: codegen::ModelService::ByModelName { rules: &RULES_CHAT, select: select_chat }"
        )));
        assert!(compact(&text).contains(&compact(
            "const RULES_CHAT: [codegen::ModelRule; 5] = [codegen::ModelRule { pattern: \"qwen*\","
        )));
        assert!(
            text.contains("/// - rule 3: `claude-3-5-sonnet-latest`\n/// - rule 4: `claude-3-5-*`")
        );
    }

    #[test]
    fn suffix_both_ends_and_general_globs_get_their_own_tests() {
        let text = generated(&plan_with(rules(&[
            "*-mini",
            "gpt-*-mini",
            "qwen-?-max",
            "a*b*c",
        ])));
        assert_eq!(
            select_fn(&text),
            compact(
                "fn select_chat(model: &str) -> Option<u16> {
                    if model.len() >= 9 && model.starts_with(\"gpt-\") && model.ends_with(\"-mini\") { return Some(1); }
                    if codegen::glob_matches(model, &[\"qwen-?-max\"]) { return Some(2); }
                    if model.ends_with(\"-mini\") { return Some(0); }
                    if codegen::glob_matches(model, &[\"a\", \"b\", \"c\"]) { return Some(3); }
                    None"
            )
        );
    }

    #[test]
    fn a_lone_catch_all_ignores_the_model() {
        let text = generated(&plan_with(rules(&["*"])));
        assert_eq!(
            select_fn(&text),
            compact("fn select_chat(_model: &str) -> Option<u16> { Some(0)")
        );
    }

    #[test]
    fn proportions_and_metrics_are_data() {
        let text = generated(&plan_with(ModelService::ByProportion(vec![
            WeightedTarget {
                target: target(0, None),
                weight: 1.0,
            },
            WeightedTarget {
                target: target(1, Some("m")),
                weight: 2.5,
            },
        ])));
        assert!(compact(&text).contains(&compact(
            "codegen::ModelService::ByProportion(&[codegen::WeightedTarget { target: codegen::Target { service: 0, model: None }, weight: 1.0 }, codegen::WeightedTarget { target: codegen::Target { service: 1, model: Some(\"m\") }, weight: 2.5 }])"
        )));
        let text = generated(&plan_with(ModelService::ByMetrics(MetricsBalance {
            targets: vec![target(0, None), target(1, None)],
            objective: Objective::FirstTokenLatency,
            decay_ms: 10_000,
        })));
        assert!(compact(&text).contains(&compact(
            "objective: codegen::Objective::FirstTokenLatency, decay_ms: 10000"
        )));
        assert!(!text.contains("fn select_"));
    }
}
