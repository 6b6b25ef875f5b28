//! A real PostgreSQL server for tests, never a mock: [`PgServer::start`] runs Debian's
//! `initdb` into a fresh temporary directory and `pg_ctl start` on a free loopback port (no
//! Unix socket, trust authentication for the one local user), and stops and removes it on drop.
//!
//! The binaries come from `$WXLINK_PG_BINDIR`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's `postgresql` package; `tests/postgres/install.sh` installs it), else `PATH`.
//! PostgreSQL refuses to run as root: as root the server runs as the `postgres` user the
//! Debian package creates (through `runuser`), owning its directory.
//!
//! [`PgServer::start_with_tls`] starts one with `ssl=on` and a given certificate and key
//! (plain connections are still allowed: `pg_hba.conf`'s `host` lines take both).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The database role and database the tests use.
pub const USER: &str = "wxlink";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the server could not start.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A running PostgreSQL server; stopped (immediately) and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgServer {
    /// Creates a cluster in a new temporary directory and starts it on a free loopback port.
    pub fn start() -> Result<PgServer, Error> {
        PgServer::start_with(None)
    }

    /// As [`PgServer::start`], with TLS on: `cert_pem` (the server's certificate, then any
    /// intermediates) and `key_pem` (its private key) go to `server.crt` and `server.key`
    /// (mode 0600, owned by the server's user) in the server's directory.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> Result<PgServer, Error> {
        PgServer::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Result<PgServer, Error> {
        let bindir = bindir()?;
        let as_postgres = unsafe { libc::geteuid() } == 0;
        let dir = fresh_dir()?;
        let server = PgServer {
            bindir,
            dir,
            port: free_port()?,
            as_postgres,
        };
        let mut ssl = String::new();
        if let Some((cert_pem, key_pem)) = tls {
            let (cert, key) = (server.dir.join("server.crt"), server.dir.join("server.key"));
            write_private(&cert, cert_pem)?;
            write_private(&key, key_pem)?;
            ssl = format!(
                " -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'",
                cert.display(),
                key.display()
            );
        }
        if as_postgres {
            let out = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.dir)
                .output()
                .map_err(|e| Error(format!("chown: {e}")))?;
            check("chown", &out)?;
        }
        let data = server.data();
        let out = server
            .command("initdb")
            .args([
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| Error(format!("initdb: {e}")))?;
        check("initdb", &out)?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='' \
             -c fsync=off -c max_connections=200{ssl}",
            server.port
        );
        let out = server
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(server.dir.join("server.log"))
            .args(["-w", "-t", &START_TIMEOUT.as_secs().to_string(), "start"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error(format!("pg_ctl start: {e}")))?;
        check("pg_ctl start", &out).map_err(|e| Error(format!("{e}\n{}", server.log())))?;
        server.wait_ready()?;
        Ok(server)
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `db` (created by [`PgServer::create_database`], or
    /// `postgres`).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` (a fresh one per test keeps tests apart).
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(name))
    }

    /// Runs `sql` in database `db` with `psql`; its output (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, Error> {
        let out = Command::new(self.bindir.join("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(db),
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error(format!("psql: {e}")))?;
        check("psql", &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The server's temporary directory (removed on drop): a place for a test's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn wait_ready(&self) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.psql("postgres", "SELECT 1").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "PostgreSQL did not accept connections on port {}:\n{}",
                    self.port,
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn check(what: &str, out: &Output) -> Result<(), Error> {
    if out.status.success() {
        return Ok(());
    }
    Err(Error(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}

/// Where PostgreSQL's programs are.
fn bindir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os("WXLINK_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file());
    on_path.ok_or_else(|| {
        Error(
            "PostgreSQL is not installed: run tests/postgres/install.sh (Debian's postgresql) \
             or set WXLINK_PG_BINDIR"
                .into(),
        )
    })
}

/// Writes `text` to a new file at `path` that only its owner can read (mode 0600).
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error(format!("{}: {e}", path.display())))
}

/// A new empty directory under the temporary directory, readable by the server's user.
fn fresh_dir() -> Result<PathBuf, Error> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "wxlink-pg-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

/// A port nobody listens on now.
fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error(format!("no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error(format!("no free port: {e}")))
}

/// Whether PostgreSQL's programs can be found (tests do not skip on it: they fail with [`Error`]).
pub fn installed() -> bool {
    bindir().is_ok_and(|b| Path::new(&b).join("initdb").is_file())
}
