//! TLS against a real PostgreSQL with `ssl=on` (a second server, its certificate for
//! 127.0.0.1 and localhost signed by a CA made here): under `require` every connection —
//! the pool's, the listener's, the lease connection — is encrypted (`pg_stat_ssl`); an
//! untrusted or misnamed certificate is refused in words; `verify-ca` checks the CA only;
//! `disable` stays plain and `prefer` encrypts; `require` against a server without TLS fails.

use std::collections::BTreeMap;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::*;
use crate::store::contract::login;
use crate::store::{Notice, StoreResult};

/// A CA: its certificate (PEM) and what signs with it.
fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

static TLS: Cell = OnceLock::new();

extern "C" fn stop_tls() {
    Shared::stop(&TLS);
}

/// The TLS server; `ca.pem` (its CA) and `other-ca.pem` (a CA that signed nothing of it) in
/// its directory.
fn tls() -> &'static Shared {
    Shared::get(
        &TLS,
        || {
            let ca = new_ca("wxlink test CA");
            let key = KeyPair::generate().map_err(|e| e.to_string())?;
            let cert = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
                .and_then(|params| params.signed_by(&key, &ca))
                .map_err(|e| e.to_string())?;
            let server = PgServer::start_with_tls(&cert.pem(), &key.serialize_pem())
                .map_err(|e| e.to_string())?;
            let write = |name: &str, pem: String| std::fs::write(server.dir().join(name), pem);
            write("ca.pem", ca.pem()).map_err(|e| e.to_string())?;
            write("other-ca.pem", new_ca("another CA").pem()).map_err(|e| e.to_string())?;
            Ok(server)
        },
        stop_tls,
    )
}

/// A CA file of the TLS server's directory.
fn ca_file(name: &str) -> String {
    tls().dir.join(name).display().to_string()
}

/// Connects to `url` (every database of these tests has one key).
async fn connect(url: &str) -> StoreResult<PgStore> {
    static KEY: OnceLock<CredentialKey> = OnceLock::new();
    let key = KEY.get_or_init(CredentialKey::generate);
    PgStore::connect(url, key.clone()).await
}

/// The error of connecting to `url`, as text.
async fn refused(url: &str) -> String {
    match connect(url).await {
        Ok(_) => panic!("{url}: connected"),
        Err(e) => {
            eprintln!("{url}: {e}");
            e.to_string()
        }
    }
}

/// Whether each wxlink connection to `db` on the TLS server is encrypted, by application name.
fn encrypted(db: &str) -> BTreeMap<String, Vec<bool>> {
    let rows = tls().psql(
        "postgres",
        &format!(
            "SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s \
             USING (pid) WHERE a.datname = '{db}' AND a.application_name LIKE 'wxlink%'"
        ),
    );
    let mut by_name = BTreeMap::<String, Vec<bool>>::new();
    for row in rows.lines() {
        let (name, ssl) = row.split_once('|').expect("name|ssl");
        by_name.entry(name.into()).or_default().push(ssl == "t");
    }
    by_name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_with_the_servers_ca_encrypts_every_connection() {
    let db = tls().new_database();
    let url = format!(
        "{}?sslmode=require&sslrootcert={}",
        tls().url(&db),
        ca_file("ca.pem")
    );
    let store = connect(&url).await.unwrap();
    let mut notices = store.notices().expect("notices");

    // A write and a read over the pool, its notice over the listener, a lease over the lease
    // connection.
    store.save_login("main", &login("bot", "t")).await.unwrap();
    let session = store.session("main").await.unwrap().expect("stored");
    assert_eq!(session.name, "main");
    let notice = tokio::time::timeout(Duration::from_secs(5), notices.recv()).await;
    assert_eq!(notice.expect("a notice").unwrap(), Notice::Sessions);
    let leases = store.leases().expect("leases");
    let lease = leases.try_acquire("main").await.unwrap().expect("free");
    assert_eq!(leases.is_held("main").await, Some(true));

    let by_name = encrypted(&db);
    let names: Vec<&str> = by_name.keys().map(String::as_str).collect();
    assert_eq!(names, ["wxlink", "wxlink-lease", "wxlink-listen"]);
    for (name, ssl) in &by_name {
        assert!(ssl.iter().all(|&on| on), "{name}: {ssl:?}");
    }
    drop(lease);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_verified_under_require() {
    let db = tls().new_database();
    let base = tls().url(&db);
    // The test CA is no system CA.
    for url in [
        format!("{base}?sslmode=require"),
        format!(
            "{base}?sslmode=require&sslrootcert={}",
            ca_file("other-ca.pem")
        ),
    ] {
        let e = refused(&url).await;
        assert!(
            e.contains("not signed by a CA this host trusts") && e.contains("sslrootcert="),
            "{e}"
        );
    }
    // The name is checked too: `host` names the server, `hostaddr` is where it is.
    let misnamed = |mode: &str| {
        format!(
            "host=db.wxlink.test hostaddr=127.0.0.1 port={} user={} dbname={db} sslmode={mode} \
             sslrootcert='{}'",
            tls().port,
            pg_testserver::USER,
            ca_file("ca.pem")
        )
    };
    for mode in ["require", "verify-full"] {
        let e = refused(&misnamed(mode)).await;
        assert!(
            e.contains("does not name the host") && e.contains("verify-ca"),
            "{e}"
        );
    }
    // verify-ca checks the CA, not the name; verify-full by a name the certificate lists.
    let ca_only = connect(&misnamed("verify-ca")).await.unwrap();
    ca_only.save_login("a", &login("bot", "t")).await.unwrap();
    let by_name = format!(
        "postgres://{}@localhost:{}/{db}?sslmode=verify-full&sslrootcert={}",
        pg_testserver::USER,
        tls().port,
        ca_file("ca.pem")
    );
    let full = connect(&by_name).await.unwrap();
    assert!(full.session("a").await.unwrap().is_some());
    // A CA file that is not there is named.
    let e = refused(&format!(
        "{base}?sslmode=require&sslrootcert=/nonexistent/ca.pem"
    ))
    .await;
    assert!(
        e.contains("cannot read sslrootcert /nonexistent/ca.pem"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_stays_plain_and_prefer_encrypts_unverified() {
    let (plain, preferred) = (tls().new_database(), tls().new_database());
    let store = connect(&format!("{}?sslmode=disable", tls().url(&plain)))
        .await
        .unwrap();
    store.save_login("main", &login("bot", "t")).await.unwrap();
    let by_name = encrypted(&plain);
    assert_eq!(by_name.len(), 2, "{by_name:?}");
    assert!(by_name.values().flatten().all(|&on| !on), "{by_name:?}");

    // The default: TLS as the server offers it, its certificate (of a CA nobody trusts) not
    // checked.
    let store = connect(&tls().url(&preferred)).await.unwrap();
    store.save_login("main", &login("bot", "t")).await.unwrap();
    let by_name = encrypted(&preferred);
    assert_eq!(by_name.len(), 2, "{by_name:?}");
    assert!(by_name.values().flatten().all(|&on| on), "{by_name:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_against_a_server_without_tls_fails_clearly() {
    let e = refused(&format!("{}?sslmode=require", url(&new_database()))).await;
    assert!(
        e.contains("does not offer TLS") && e.contains("sslmode"),
        "{e}"
    );
    // sslrootcert asks for verification, which prefer does not do.
    let e = refused(&format!(
        "{}?sslrootcert={}",
        url(&new_database()),
        ca_file("ca.pem")
    ))
    .await;
    assert!(e.contains("sslmode=require"), "{e}");
}
