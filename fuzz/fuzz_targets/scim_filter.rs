//! The SCIM filter parser (plugins/source-scim filter.rs): the `filter` query
//! parameter of `GET /Users`. Any text must give a filter or an `invalidFilter`
//! error, and a filter must stay within the limits the directory searches rely on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use writeback_source_scim::filter::{self, Attribute, Filter, MAX_COMPARISONS, MAX_FILTER_LEN};

fn comparisons(f: &Filter) -> usize {
    match f {
        Filter::Eq(..) => 1,
        Filter::And(a, b) | Filter::Or(a, b) => comparisons(a) + comparisons(b),
    }
}

fn collect(f: &Filter, out: &mut Vec<(Attribute, String)>) {
    match f {
        Filter::Eq(a, v) => out.push((*a, v.clone())),
        Filter::And(a, b) | Filter::Or(a, b) => {
            collect(a, out);
            collect(b, out);
        }
    }
}

fuzz_target!(|text: &str| {
    match filter::parse(text) {
        Ok(f) => {
            assert!(text.len() <= MAX_FILTER_LEN);
            assert!(comparisons(&f) <= MAX_COMPARISONS);
            let queries = f.candidate_queries();
            assert!(!queries.is_empty() && queries.len() <= MAX_COMPARISONS);
            // Soundness of the search plan: a resource the filter matches must be
            // found by one of the candidate searches. Tried with every resource that
            // holds one value the filter names.
            let mut leaves = Vec::new();
            collect(&f, &mut leaves);
            for (attribute, value) in &leaves {
                let holds = |a: Attribute| {
                    if a == *attribute {
                        vec![value.clone()]
                    } else {
                        Vec::new()
                    }
                };
                if f.matches(&holds) {
                    let found = queries
                        .iter()
                        .any(|(q, v)| Filter::Eq(*q, v.clone()).matches(&holds));
                    assert!(
                        found,
                        "{attribute:?}={value:?} matches but no search finds it"
                    );
                }
            }
        }
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400);
            assert!(!e.detail.is_empty());
        }
    }
});
