//! PostgreSQL over TLS (`sslmode`, `sslrootcert` in the store URL) against a
//! throwaway cluster started with `ssl = on` and a certificate for
//! `localhost` from a test CA made here (`pg_support`, `certs_support`):
//! `verify-full` connects (and the server sees TLS), a wrong host name and
//! an untrusted CA are refused with messages that say which and what to do,
//! `require` to a server without TLS is refused, and the same through
//! `tradecloud inbox migrate` and two `tradecloud serve` processes, one of
//! them SIGKILLed.
#![cfg(unix)]

use crate::certs_support;
use crate::pg_support;
use crate::serve_pg_support;

use certs_support::Pki;
use pg_support::PgCluster;
use tradecloud::inbox::{EventKind, Inbox, NewEvent};

/// A cluster serving a certificate for `localhost` only (not 127.0.0.1),
/// the file of its root CA, and the file of another CA.
struct TlsCluster {
    pg: PgCluster,
    ca: String,
    other_ca: String,
    _dir: tempfile::TempDir,
}

fn tls_cluster(tls_only: bool) -> TlsCluster {
    let pki = Pki::for_names("pg", &["localhost"]);
    let other = Pki::new("other");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let ca = write("ca.pem", &pki.root_pem);
    let other_ca = write("other-ca.pem", &other.root_pem);
    let pg = PgCluster::start_tls(&pki.full_chain(), &pki.leaf_key_pem, tls_only);
    TlsCluster {
        pg,
        ca,
        other_ca,
        _dir: dir,
    }
}

impl TlsCluster {
    fn url(&self, host: &str, database: &str, query: &str) -> String {
        format!(
            "postgres://postgres@{host}:{}/{database}?{query}",
            self.pg.port()
        )
    }
}

async fn connect_error(url: &str) -> String {
    match Inbox::connect(url).await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e.to_string(),
    }
}

/// Whether the connections of application `app` use TLS and which
/// version (`true TLSv1.3`, `false -`), as the server sees them.
fn server_sees(pg: &PgCluster, database: &str, app: &str) -> String {
    pg.psql(
        database,
        &format!(
            "SELECT string_agg(DISTINCT s.ssl::text || ' ' || coalesce(s.version, '-'), ',') \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{app}'"
        ),
    )
}

async fn store_one(inbox: &Inbox) {
    inbox
        .store(NewEvent::trigger(EventKind::Order, "o-1"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_connects_and_a_wrong_host_or_an_untrusted_ca_is_refused() {
    let c = tls_cluster(false);
    c.pg.database("inbox");

    // The name the certificate has, the CA that signed it: TLS, verified.
    let good = c.url(
        "localhost",
        "inbox",
        &format!(
            "sslmode=verify-full&sslrootcert={}&application_name=full",
            c.ca
        ),
    );
    let inbox = Inbox::connect(&good).await.unwrap();
    store_one(&inbox).await;
    let seen = server_sees(&c.pg, "inbox", "full");
    assert!(seen.starts_with("true TLSv1."), "{seen}");
    drop(inbox);

    // 127.0.0.1 is not a name of the certificate.
    let e = connect_error(&c.url(
        "127.0.0.1",
        "inbox",
        &format!("sslmode=verify-full&sslrootcert={}", c.ca),
    ))
    .await;
    assert!(
        e.contains("wrong host name")
            && e.contains("127.0.0.1")
            && e.contains("it names localhost")
            && e.contains("sslmode=verify-ca"),
        "{e}"
    );
    // verify-ca checks the chain only: the same address connects.
    let inbox = Inbox::connect(&c.url(
        "127.0.0.1",
        "inbox",
        &format!("sslmode=verify-ca&sslrootcert={}", c.ca),
    ))
    .await
    .unwrap();
    store_one(&inbox).await;
    drop(inbox);

    // Another CA, the system's roots: untrusted, and what to do.
    let e = connect_error(&c.url(
        "localhost",
        "inbox",
        &format!("sslmode=verify-full&sslrootcert={}", c.other_ca),
    ))
    .await;
    assert!(
        e.contains("untrusted CA") && e.contains(&c.other_ca) && e.contains("set sslrootcert"),
        "{e}"
    );
    let e = connect_error(&c.url("localhost", "inbox", "sslmode=verify-full")).await;
    assert!(
        e.contains("untrusted CA") && e.contains("system's trusted roots"),
        "{e}"
    );
    // libpq's rule: `require` with a root file checks the chain too.
    let e = connect_error(&c.url(
        "localhost",
        "inbox",
        &format!("sslmode=require&sslrootcert={}", c.other_ca),
    ))
    .await;
    assert!(e.contains("untrusted CA"), "{e}");
    // Without one, `require` and the default `prefer` encrypt without
    // checking (libpq's meaning); `disable` stays on plain TCP although
    // the server offers TLS.
    for (query, app, expected) in [
        ("sslmode=require&", "require", "true TLSv1.3"),
        ("", "prefer", "true TLSv1.3"),
        ("sslmode=disable&", "disable", "false -"),
    ] {
        let url = c.url(
            "127.0.0.1",
            "inbox",
            &format!("{query}application_name={app}"),
        );
        let inbox = Inbox::connect(&url).await.unwrap();
        store_one(&inbox).await;
        assert_eq!(server_sees(&c.pg, "inbox", app), expected, "{url}");
    }
    // The password never shows in an error.
    let e = connect_error(&format!(
        "postgres://postgres:hunter2@127.0.0.1:{}/inbox?sslmode=verify-full&sslrootcert={}",
        c.pg.port(),
        c.ca
    ))
    .await;
    assert!(
        !e.contains("hunter2") && e.contains("wrong host name"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_to_a_server_without_tls_is_refused() {
    let pg = PgCluster::start();
    pg.database("plain");
    let url = |query: &str| format!("postgres://postgres@127.0.0.1:{}/plain?{query}", pg.port());
    for query in ["sslmode=require", "sslmode=verify-full"] {
        let e = connect_error(&url(query)).await;
        assert!(
            e.contains("server does not support TLS")
                && e.contains("turn on `ssl`")
                && e.contains(query),
            "{query}: {e}"
        );
    }
    // The default (`prefer`) falls back to plain TCP, as libpq does.
    let inbox = Inbox::connect(&url("application_name=prefer"))
        .await
        .unwrap();
    store_one(&inbox).await;
    assert_eq!(server_sees(&pg, "plain", "prefer"), "false -");
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tradecloud"))
        .args(args)
        .env_remove("TRADECLOUD_STORE_URL")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_migrate_to_postgres_over_tls() {
    let c = tls_cluster(true);
    c.pg.database("moved");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("inbox.db").display());
    {
        let inbox = Inbox::open(&sqlite).unwrap();
        for i in 0..3 {
            inbox
                .store(NewEvent::trigger(EventKind::Order, format!("o-{i}")))
                .await
                .unwrap();
        }
    }
    let to = |ca: &str| {
        c.url(
            "localhost",
            "moved",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        )
    };
    let refused = cli(&[
        "inbox",
        "migrate",
        "--from",
        &sqlite,
        "--to",
        &to(&c.other_ca),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("untrusted CA") && stderr.contains("set sslrootcert"),
        "{stderr}"
    );
    let wrong_host = cli(&[
        "inbox",
        "migrate",
        "--from",
        &sqlite,
        "--to",
        &c.url(
            "127.0.0.1",
            "moved",
            &format!("sslmode=verify-full&sslrootcert={}", c.ca),
        ),
    ]);
    assert!(!wrong_host.status.success());
    assert!(String::from_utf8_lossy(&wrong_host.stderr).contains("wrong host name"));

    let moved = cli(&[
        "inbox",
        "migrate",
        "--from",
        &sqlite,
        "--to",
        &to(&c.ca),
        "--json",
    ]);
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let copied: serde_json::Value = serde_json::from_slice(&moved.stdout).unwrap();
    assert_eq!(copied["events"], 3);
    let listed = cli(&["inbox", "list", "--json", "--store", &to(&c.ca)]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 3);
}

/// The check: two receivers with `sslmode=verify-full` share one
/// TLS PostgreSQL (which refuses connections without TLS) and lose
/// nothing under a SIGKILL of one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_receivers_with_verify_full_lose_nothing_when_one_is_killed() {
    let c = tls_cluster(true);
    c.pg.database("inbox");
    let url = c.url(
        "localhost",
        "inbox",
        &format!("sslmode=verify-full&sslrootcert={}", c.ca),
    );
    serve_pg_support::two_instances_lose_nothing_when_one_is_killed(
        env!("CARGO_BIN_EXE_tradecloud"),
        &url,
    )
    .await;
    // The cluster refuses plain TCP: the receivers' connections were TLS.
    let plain = connect_error(&c.url("localhost", "inbox", "sslmode=disable")).await;
    assert!(plain.contains("no encryption"), "{plain}");
}
