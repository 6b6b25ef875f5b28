//! Leases across stores: exclusive, released on drop, and lost when their connection's
//! backend is terminated — then taken by the other store.

use std::time::{Duration, Instant};

use super::*;
use crate::coord::Leases;
use crate::store::postgres::lease::lease_key;

/// `store`'s leases.
fn leases(store: &PgStore) -> Arc<dyn Leases> {
    store.leases().expect("PostgreSQL has leases")
}

/// Tries `name` on `leases` until it is taken, within `within`; how long it took.
async fn acquire_within(
    leases: &dyn Leases,
    name: &str,
    within: Duration,
) -> (crate::coord::Lease, Duration) {
    let start = Instant::now();
    loop {
        if let Some(lease) = leases.try_acquire(name).await.unwrap() {
            return (lease, start.elapsed());
        }
        assert!(
            start.elapsed() < within,
            "{name} not acquired within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The backend holding lease `name` in `db`.
fn holder_pid(db: &PgFixture, name: &str) -> Option<i32> {
    let key = lease_key(name) as u64;
    let pid = db.psql(&format!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = {} \
         AND objid = {} AND objsubid = 1 AND granted",
        key >> 32,
        key & 0xffff_ffff
    ));
    pid.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_exclusive_across_stores_and_released_on_drop() {
    let db = PgFixture::new();
    let (one, two) = (db.pg().await, db.pg().await);
    let (a, b) = (leases(&one), leases(&two));
    assert_eq!(a.retry(), Duration::from_secs(1));
    assert_eq!(b.is_held("acc").await, Some(false));

    let lease = a.try_acquire("acc").await.unwrap().expect("free");
    assert!(!lease.is_lost());
    assert!(a.held_here("acc"));
    assert!(!b.held_here("acc"));
    assert_eq!(b.is_held("acc").await, Some(true));
    assert!(b.try_acquire("acc").await.unwrap().is_none(), "held by one");
    assert!(a.try_acquire("acc").await.unwrap().is_none(), "held here");
    // Another name is independent.
    let other = b.try_acquire("other").await.unwrap().expect("free");
    assert_eq!(a.is_held("other").await, Some(true));

    drop(lease);
    assert!(!a.held_here("acc"));
    let (taken, _) = acquire_within(b.as_ref(), "acc", Duration::from_secs(3)).await;
    assert!(b.held_here("acc"));
    assert!(a.try_acquire("acc").await.unwrap().is_none());
    drop((taken, other));
    // Both released: the first store takes it again.
    acquire_within(a.as_ref(), "acc", Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_connection_dies_is_lost_and_taken_over() {
    let db = PgFixture::new();
    let (one, two) = (db.pg().await, db.pg().await);
    let (a, b) = (leases(&one), leases(&two));
    let first = a.try_acquire("acc").await.unwrap().expect("free");
    let second = a.try_acquire("acc2").await.unwrap().expect("free");
    assert!(b.try_acquire("acc").await.unwrap().is_none());

    // The holder's backend is terminated (its host stopped answering, an operator, a
    // failover).
    let pid = holder_pid(&db, "acc").expect("a holder");
    assert_eq!(
        holder_pid(&db, "acc2"),
        Some(pid),
        "one connection per store"
    );
    let start = Instant::now();
    db.psql(&format!("SELECT pg_terminate_backend({pid})"));
    tokio::time::timeout(Duration::from_secs(5), first.lost())
        .await
        .expect("the lease is lost within 5 s");
    assert!(second.is_lost(), "every lease of the connection is lost");
    assert!(!a.held_here("acc") && !a.held_here("acc2"));

    // The other store takes it over; the lost holder cannot take it back meanwhile.
    let (taken, _) = acquire_within(b.as_ref(), "acc", Duration::from_secs(5)).await;
    let failover = start.elapsed();
    assert!(
        failover < Duration::from_secs(3),
        "failover took {failover:?}"
    );
    assert!(a.try_acquire("acc").await.unwrap().is_none());
    // The first store reconnects for the next lease it asks for.
    let (again, _) = acquire_within(a.as_ref(), "acc2", Duration::from_secs(5)).await;
    assert!(!again.is_lost());
    let new_pid = holder_pid(&db, "acc2").expect("a holder");
    assert_ne!(new_pid, pid, "a new connection");
    // Dropping the lost leases unlocks nothing the new connection holds.
    drop((first, second));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(holder_pid(&db, "acc2"), Some(new_pid));
    assert!(a.held_here("acc2"));
    drop(taken);
}
