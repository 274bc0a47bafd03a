//! The REST API against its own OpenAPI document, with schemathesis (PyPI,
//! `st`; installed by `.ci/run`): generated requests to every documented
//! operation with a real owner token; no answer may be a 5xx, and every
//! answer's status, content type and body must be the documented ones.
//! Skips cleanly where `st` is not installed.

mod common;

use common::*;
use std::process::Command;

#[tokio::test]
async fn the_api_answers_as_its_openapi_document_says() {
    if Command::new("st").arg("--version").output().is_err() {
        eprintln!("skipped: schemathesis (`st`) is not installed");
        return;
    }
    let srv = Server::start();
    let token = srv.login(OWNER).await;
    let base = srv.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("st")
            .args(["run", &format!("{base}/api/v1/openapi.json"), "--url", &base])
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "-c",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "-n",
                "10",
                "--seed",
                "16",
                "--no-color",
                // Routes that end this token's session (sign-out, a new
                // password) or are not REST (sockets, the signed billing hook).
                "--exclude-path-regex",
                "(logout|/ws/|billing/webhook|password|rotate)",
            ])
            .output()
            .expect("running schemathesis")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found failures");
    assert!(report.contains("passed"), "{report}");
}
