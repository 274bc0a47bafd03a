//! The cluster's PostgreSQL schema (`http/CLUSTER.md`), against a real
//! PostgreSQL started for the test: `parley admin migrate` applies every
//! migration once, in order, even when two run at the same moment, and
//! says clearly when there is nothing to migrate or nobody to reach.

mod common;

use common::postgres::{self, Postgres};
use common::*;
use serde_json::Value;
use std::process::{Command, Output};

fn migrate(config: &std::path::Path, env_url: Option<&str>) -> Output {
    let mut c = Command::new(bin());
    c.args(["admin", "migrate", "--config"]).arg(config);
    c.env_remove("PARLEY_POSTGRES_URL");
    if let Some(u) = env_url {
        c.env("PARLEY_POSTGRES_URL", u);
    }
    c.output().expect("running parley admin migrate")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

#[tokio::test]
async fn migrate_applies_the_schema_once_and_names_what_is_wrong() {
    if let Some(why) = postgres::unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("parley.toml");
    std::fs::write(
        &cfg,
        format!(
            "[cluster]\nnode_id = \"a\"\npostgres_url = \"{}\"\n",
            pg.url()
        ),
    )
    .unwrap();

    // Two at once: the advisory lock lets exactly one apply each step.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| migrate(&cfg, None));
        let b = s.spawn(|| migrate(&cfg, None));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (json_of(&a), json_of(&b));
    let mut applied: Vec<i64> = [&a, &b]
        .iter()
        .flat_map(|v| v["applied"].as_array().unwrap().clone())
        .map(|v| v.as_i64().unwrap())
        .collect();
    applied.sort();
    assert_eq!(applied, [1], "{a} {b}");
    assert_eq!(
        (a["version"].as_i64(), b["version"].as_i64()),
        (Some(1), Some(1))
    );
    // Again: nothing to do.
    let again = json_of(&migrate(&cfg, None));
    assert_eq!(again, serde_json::json!({"applied": [], "version": 1}));

    // The tables are there, with their keys.
    let (client, conn) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT table_name FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
            &[],
        )
        .await
        .unwrap();
    let tables: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(tables, ["kv", "parley_migrations", "tenant_lease"]);
    client
        .execute(
            "INSERT INTO kv (tree, key, value) VALUES (0, '\\x01', '\\x02')",
            &[],
        )
        .await
        .unwrap();
    let dup = client
        .execute(
            "INSERT INTO kv (tree, key, value) VALUES (0, '\\x01', '\\x03')",
            &[],
        )
        .await;
    assert!(dup.is_err(), "(tree, key) is the primary key");

    // Nothing to migrate: a usage error (exit 2) that says what to set.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let out = migrate(&empty, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres_url"));
    // The environment names it too.
    assert_eq!(json_of(&migrate(&empty, Some(&pg.url())))["version"], 1);
    // Nobody there: exit 1, the address without its password.
    let port = common::smtp::free_port();
    let out = migrate(
        &empty,
        Some(&format!(
            "postgres://parley:hunter2hunter2@127.0.0.1:{port}/postgres"
        )),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
}
