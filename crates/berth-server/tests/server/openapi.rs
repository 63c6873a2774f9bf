//! `GET /api/v1/openapi.json` as a client fetches it: every route the
//! router answers on is in it and nothing else, each operation names the
//! bearer token (but the public ones) and the wire error body, and a real
//! OpenAPI validator accepts it.

use std::collections::BTreeMap;
use std::process::Command;

use berth_testkit::TestServer;
use reqwest::StatusCode;
use serde_json::Value;

use super::routes_of_the_router;

/// The operations anyone may call, without a token.
const PUBLIC: [(&str, &str); 2] = [("POST", "/api/v1/login"), ("GET", "/api/v1/openapi.json")];

/// Every method an OpenAPI path item can hold.
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const ERROR_BODY: &str = "#/components/schemas/ErrorBody";

/// Validates the OpenAPI document in the file named by the first argument
/// with `openapi-spec-validator` (which `script/test` installs), and says
/// where it is wrong without repeating the whole document.
const VALIDATE: &str = "import json, sys
from openapi_spec_validator import validate
with open(sys.argv[1]) as document:
    try:
        validate(json.load(document))
    except Exception as error:
        where = getattr(error, 'json_path', type(error).__name__)
        sys.exit(f'{where}: {getattr(error, \"message\", str(error))[:2000]}')
";

/// The document's operations by (method, path), e.g. `("GET", "/api/v1/apps")`.
fn operations(document: &Value) -> BTreeMap<(String, String), &Value> {
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    let mut operations = BTreeMap::new();
    for (path, item) in paths {
        for method in OPENAPI_METHODS {
            if let Some(operation) = item.get(method) {
                operations.insert((method.to_uppercase(), path.clone()), operation);
            }
        }
    }
    operations
}

/// What is wrong with one operation's security and responses.
fn problems_of(method: &str, path: &str, operation: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let public = PUBLIC.contains(&(method, path));
    let bearer = operation["security"]
        .as_array()
        .is_some_and(|requirements| requirements.iter().any(|r| r.get("token").is_some()));
    if public && bearer {
        problems.push(format!("{method} {path} is public but asks for a token"));
    }
    if !public && !bearer {
        problems.push(format!(
            "{method} {path} does not declare the bearer token: add security((\"token\" = []))"
        ));
    }
    let responses = operation["responses"].as_object();
    let statuses: Vec<&String> = responses.iter().flat_map(|r| r.keys()).collect();
    if !statuses
        .iter()
        .any(|s| s.starts_with('1') || s.starts_with('2'))
    {
        problems.push(format!("{method} {path} has no success response"));
    }
    if !public && !statuses.iter().any(|s| *s == "401") {
        problems.push(format!("{method} {path} does not say it can answer 401"));
    }
    for (status, response) in responses.into_iter().flatten() {
        let error = status.starts_with('4') || status.starts_with('5');
        let schema = &response["content"]["application/json"]["schema"]["$ref"];
        if error && schema != ERROR_BODY {
            problems.push(format!(
                "{method} {path}: its {status} response is not the error body: {response}"
            ));
        }
    }
    problems
}

/// Runs the validator on `document`: its exit status and what it said.
fn validate(document: &Value) -> (bool, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(document).unwrap()).unwrap();
    let output = Command::new("python3")
        .args(["-c", VALIDATE])
        .arg(file.path())
        .output()
        .expect("python3 runs (script/test installs it with openapi-spec-validator)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_validates() {
    let server = TestServer::start();
    let response = reqwest::get(format!("{}/api/v1/openapi.json", server.api_url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        document["openapi"]
    );
    assert_eq!(document["info"]["title"], "Berth API");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let scheme = &document["components"]["securitySchemes"]["token"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&"http".into(), &"bearer".into())
    );
    let error_body = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error_body["required"], serde_json::json!(["id", "message"]));

    let routed = routes_of_the_router(&server).await;
    let documented = operations(&document);
    let undocumented: Vec<_> = routed
        .iter()
        .filter(|route| !documented.contains_key(route))
        .collect();
    let unrouted: Vec<_> = documented
        .keys()
        .filter(|operation| !routed.contains(operation))
        .collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from the OpenAPI document (see how v1() in api/mod.rs adds one): \
         {undocumented:?}\noperations of the document that the router does not answer: \
         {unrouted:?}"
    );

    let problems: Vec<String> = documented
        .iter()
        .flat_map(|((method, path), operation)| problems_of(method, path, operation))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let (valid, said) = validate(&document);
    assert!(
        valid,
        "openapi-spec-validator refuses the document:\n{said}"
    );
    // The validator does look: a document without its info is refused.
    let mut broken = document.clone();
    broken.as_object_mut().unwrap().remove("info");
    let (valid, said) = validate(&broken);
    assert!(
        !valid && said.contains("'info' is a required property"),
        "{said}"
    );
    println!(
        "{} routed operations documented, the document validates",
        routed.len()
    );
}
