//! The harness starts a real server that answers SQL, has the `pg_trgm` extension the
//! PostgreSQL store's text search needs (Chinese inside sentences), keeps two servers apart,
//! and is gone after drop.

use pg_testserver::PgServer;

#[test]
fn a_real_server_answers_has_pg_trgm_and_is_gone_after_drop() {
    let a = PgServer::start().expect("start PostgreSQL");
    let b = PgServer::start().expect("a second one");
    assert_ne!(a.port(), b.port());
    let url = a.create_database("t1").expect("create database");
    assert!(url.ends_with("/t1"), "{url}");
    assert_eq!(a.psql("t1", "SELECT 40 + 2").unwrap(), "42");
    a.psql("t1", "CREATE EXTENSION pg_trgm").expect("pg_trgm");
    a.psql(
        "t1",
        "CREATE TABLE m (t text); INSERT INTO m VALUES ('今天下午三点开会'), ('hello'); \
         CREATE INDEX ON m USING gin (t gin_trgm_ops)",
    )
    .unwrap();
    assert_eq!(
        a.psql("t1", "SELECT t FROM m WHERE t LIKE '%三点开%'")
            .unwrap(),
        "今天下午三点开会"
    );
    // The servers are separate: b has no database t1.
    assert!(b.psql("t1", "SELECT 1").is_err());
    let port = a.port();
    drop(a);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server stopped"
    );
}
