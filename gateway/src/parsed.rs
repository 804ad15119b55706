//! Parsed GraphQL documents, remembered by their text: clients send the
//! same few operations again and again, and parsing one was about a tenth
//! of the CPU of a `currentUser` request (pest, in the profile in
//! BENCHMARKS.md). Validation, depth and complexity checks still run on
//! every request.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Distinct documents kept; when full, the cache starts over, so a client
/// sending ever new documents costs a parse each, as without the cache.
const CAPACITY: usize = 256;
/// Longer documents are parsed every time.
const MAX_QUERY_BYTES: usize = 4096;

#[derive(Default)]
pub struct ParsedQueries {
    documents: Mutex<HashMap<String, ExecutableDocument>>,
}

impl ParsedQueries {
    /// Gives `request` its parsed document: from the cache, or parsed now
    /// and remembered. A document that does not parse is left to `execute`,
    /// which parses it again and reports why.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let cached = self.documents.lock().unwrap().get(&request.query).cloned();
        if let Some(document) = cached {
            request.set_parsed_query(document);
            return;
        }
        let Ok(document) = request.parsed_query() else {
            return;
        };
        let document = document.clone();
        let mut documents = self.documents.lock().unwrap();
        if documents.len() >= CAPACITY {
            documents.clear();
        }
        documents.insert(request.query.clone(), document);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.documents.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_kept_by_text_and_bounded() {
        let cache = ParsedQueries::default();
        let mut first = async_graphql::Request::new("{ currentUser { id email } }");
        cache.prepare(&mut first);
        assert_eq!(cache.len(), 1);
        let mut again = async_graphql::Request::new("{ currentUser { id email } }");
        cache.prepare(&mut again);
        assert_eq!(cache.len(), 1);
        // The cached document is the parsed text.
        let document = again.parsed_query().unwrap();
        assert!(matches!(
            document.operations,
            async_graphql::parser::types::DocumentOperations::Single(_)
        ));

        // What does not parse is not kept.
        let mut broken = async_graphql::Request::new("{ currentUser { id ");
        cache.prepare(&mut broken);
        assert_eq!(cache.len(), 1);
        // Nor what is too long.
        let long = format!("{{ currentUser {{ {} }} }}", "id ".repeat(2000));
        cache.prepare(&mut async_graphql::Request::new(long));
        assert_eq!(cache.len(), 1);

        for i in 0..CAPACITY + 10 {
            cache.prepare(&mut async_graphql::Request::new(format!(
                "query Q{i} {{ currentUser {{ id }} }}"
            )));
            assert!(cache.len() <= CAPACITY);
        }
    }
}
