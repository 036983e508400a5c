//! Reading users: `GET /Users` (filter, pagination, projection), `POST /Users/.search`
//! (the same query in a body, RFC 7644 §3.4.3) and `GET /Users/{id}`.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::discovery::LIST_SCHEMA;
use crate::error::{scim_json, ScimError};
use crate::filter::{self, Filter};
use crate::resource::{self, Projection};
use crate::routes::{Params, Shared};

const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A list query, from URL parameters or a SearchRequest body.
struct ListQuery {
    filter: Option<Filter>,
    /// 1-based.
    start_index: usize,
    count: usize,
    projection: Projection,
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn integer(name: &str, value: &str) -> Result<i64, ScimError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("`{name}` must be an integer.")))
}

impl ListQuery {
    fn new(
        filter_text: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        projection: Projection,
        max_results: usize,
    ) -> Result<Self, ScimError> {
        let filter = match filter_text.map(str::trim).filter(|f| !f.is_empty()) {
            Some(text) => Some(filter::parse(text)?),
            None => None,
        };
        // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0; more than the
        // provider's maximum gets the maximum.
        let start_index = start_index.unwrap_or(1).max(1) as usize;
        let count = count.map_or(max_results, |c| (c.max(0) as usize).min(max_results));
        Ok(ListQuery {
            filter,
            start_index,
            count,
            projection,
        })
    }
}

pub async fn list(State(s): State<Shared>, headers: HeaderMap, Query(params): Params) -> Response {
    let query = (|| {
        let start = param(&params, "startIndex")
            .map(|v| integer("startIndex", v))
            .transpose()?;
        let count = param(&params, "count")
            .map(|v| integer("count", v))
            .transpose()?;
        let projection = Projection::from_params(
            param(&params, "attributes"),
            param(&params, "excludedAttributes"),
        )?;
        ListQuery::new(
            param(&params, "filter"),
            start,
            count,
            projection,
            s.settings.max_results,
        )
    })();
    match query {
        Ok(q) => respond_list(&s, &headers, q).await,
        Err(e) => e.into_response(),
    }
}

pub async fn search(State(s): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let query = async {
        let (_, value) = s.json_body(&headers, body).await?;
        let Value::Object(map) = value else {
            return Err(ScimError::invalid_syntax(
                "The body must be a SearchRequest object.",
            ));
        };
        if let Some(schemas) = map.get("schemas") {
            let ok = schemas
                .as_array()
                .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(SEARCH_SCHEMA)));
            if !ok {
                return Err(ScimError::invalid_syntax(format!(
                    "`schemas` must contain \"{SEARCH_SCHEMA}\"."
                )));
            }
        }
        let list = |name: &str| -> Result<Option<String>, ScimError> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Some(v.join(",")))
                    .ok_or_else(|| {
                        ScimError::invalid_syntax(format!("`{name}` must be an array of strings."))
                    }),
                Some(_) => Err(ScimError::invalid_syntax(format!(
                    "`{name}` must be an array of strings."
                ))),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("`{name}` must be an integer."))
                }),
            }
        };
        let filter_text = match map.get("filter") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) => Some(f.as_str()),
            Some(_) => return Err(ScimError::invalid_filter("`filter` must be a string.")),
        };
        let projection = Projection::from_params(
            list("attributes")?.as_deref(),
            list("excludedAttributes")?.as_deref(),
        )?;
        ListQuery::new(
            filter_text,
            number("startIndex")?,
            number("count")?,
            projection,
            s.settings.max_results,
        )
    }
    .await;
    match query {
        Ok(q) => respond_list(&s, &headers, q).await,
        Err(e) => e.into_response(),
    }
}

async fn respond_list(s: &Shared, headers: &HeaderMap, q: ListQuery) -> Response {
    let accounts = match s.directory.query(q.filter.as_ref()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let location = format!("{}/Users", s.base_url(headers));
    let total = accounts.len();
    let page: Vec<Value> = accounts
        .iter()
        .skip(q.start_index - 1)
        .take(q.count)
        .filter_map(|a| {
            let id = a.id.as_deref()?;
            Some(
                q.projection
                    .apply(resource::render(&s.directory.map, a, id, &location)),
            )
        })
        .collect();
    scim_json(&json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": q.start_index,
        "itemsPerPage": page.len(),
        "Resources": page,
    }))
}

pub async fn get_one(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    let projection = match Projection::from_params(
        param(&params, "attributes"),
        param(&params, "excludedAttributes"),
    ) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match current(&s, &headers, &id).await {
        Ok((_, resource)) => scim_json(&projection.apply(resource)),
        Err(e) => e.into_response(),
    }
}

/// The account with this id and its resource, or 404.
pub async fn current(
    s: &Shared,
    headers: &HeaderMap,
    id: &str,
) -> Result<(writeback_core::Account, Value), ScimError> {
    let account = s.directory.by_id(id).await?.ok_or_else(|| unknown_id(id))?;
    let location = format!("{}/Users", s.base_url(headers));
    let resource = resource::render(&s.directory.map, &account, id, &location);
    Ok((account, resource))
}

pub fn unknown_id(id: &str) -> ScimError {
    let shown: String = id.chars().take(128).collect();
    ScimError::not_found(format!(
        "No user with id \"{}\" in the directory. Look the user up with GET /Users?filter=userName eq \"…\" and use the id it returns.",
        shown.escape_default()
    ))
}
