//! The discovery documents (RFC 7644 §4, RFC 7643 §5–7): they describe exactly what
//! this provider does, so an identity provider that reads them does not try more.

use serde_json::{json, Value};

use crate::resource::USER_SCHEMA;

pub const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// `base` is the SCIM base URL (no trailing slash).
pub fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": { "supported": true },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A static bearer token configured in writeback (`Authorization: Bearer <token>`).",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "Accounts of the on-premises directory (read-only; only the password can be set).",
        "schema": USER_SCHEMA,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/User")
        }
    })
}

fn attribute(name: &str, kind: &str, mutability: &str, description: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": "none"
    })
}

/// The User schema as supported: every attribute comes from the directory and is
/// read-only here, except `password` (write-only, the point of this provider) and
/// `active` (setting it to true may clear a lockout).
pub fn user_schema(base: &str) -> Value {
    let mut user_name = attribute(
        "userName",
        "string",
        "readOnly",
        "The account name in the directory.",
    );
    user_name["required"] = json!(true);
    user_name["uniqueness"] = json!("server");
    let mut name = attribute("name", "complex", "readOnly", "The person's name.");
    name["subAttributes"] = json!([
        attribute("familyName", "string", "readOnly", "Family name."),
        attribute("givenName", "string", "readOnly", "Given name."),
    ]);
    let mut emails = attribute(
        "emails",
        "complex",
        "readOnly",
        "Email addresses from the directory.",
    );
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([
        attribute("value", "string", "readOnly", "The address."),
        attribute(
            "primary",
            "boolean",
            "readOnly",
            "The first address the directory lists."
        ),
    ]);
    let mut password = attribute(
        "password",
        "string",
        "writeOnly",
        "The new password: checked against the on-premises policy and written to the directory.",
    );
    password["returned"] = json!("never");
    password["caseExact"] = json!(true);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": [
            user_name,
            name,
            attribute("displayName", "string", "readOnly", "The name to display."),
            emails,
            attribute("active", "boolean", "readWrite", "Always true for an existing account; setting true may clear a lockout."),
            password,
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{USER_SCHEMA}")
        }
    })
}

pub fn list(resources: Vec<Value>) -> Value {
    let n = resources.len();
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": n,
        "itemsPerPage": n,
        "startIndex": 1,
        "Resources": resources,
    })
}
