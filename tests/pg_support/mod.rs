//! A throwaway PostgreSQL cluster for the tests: Debian's `postgresql`
//! server binaries (`scripts/test.sh` installs the package when missing),
//! `initdb` into a temporary directory (as the unprivileged `postgres` user
//! through `runuser` when the tests run as root, which `initdb` refuses), a
//! free loopback port, trust authentication on loopback only, stopped (and
//! deleted) when dropped.
//!
//! Without the server binaries a test using it **fails** with a message that
//! says how to install them: a PostgreSQL test never passes without a server.
//! `TRADECLOUD_PG_BINDIR` names the directory of `initdb`/`pg_ctl` if they
//! are elsewhere.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct PgCluster {
    bindir: PathBuf,
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The directory holding `initdb` and `pg_ctl`: `TRADECLOUD_PG_BINDIR`, or
/// the newest `/usr/lib/postgresql/*/bin`, or the one of `pg_config`.
fn bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRADECLOUD_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return dir;
        }
    }
    panic!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: these tests need a real PostgreSQL. \
         Install Debian's package (`apt-get install postgresql`; ./scripts/test.sh does this when it is missing) \
         or set TRADECLOUD_PG_BINDIR to the directory holding initdb and pg_ctl."
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn check(what: &str, output: std::io::Result<Output>) -> Output {
    let output = output.unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl PgCluster {
    /// initdb and start a new cluster.
    pub fn start() -> PgCluster {
        Self::start_with(None)
    }

    /// A cluster with `ssl = on`, serving this certificate chain (PEM,
    /// leaf first) and key. With `tls_only`, connections without TLS are
    /// refused (`hostnossl ... reject` in `pg_hba.conf`); else plain TCP
    /// stays allowed and the client's `sslmode` decides.
    pub fn start_tls(chain_pem: &str, key_pem: &str, tls_only: bool) -> PgCluster {
        Self::start_with(Some((chain_pem, key_pem, tls_only)))
    }

    fn start_with(tls: Option<(&str, &str, bool)>) -> PgCluster {
        let bindir = bindir();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("tradecloud-pg-")
            .tempdir()
            .expect("a temporary directory");
        let data = dir.path().join("data");
        if as_postgres {
            // initdb refuses root: the cluster belongs to the `postgres` user.
            check(
                "chown",
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(dir.path())
                    .output(),
            );
        }
        let cluster = PgCluster {
            bindir,
            dir,
            data,
            port: crate::port_support::free_port(),
            as_postgres,
        };
        let data = cluster.data.display().to_string();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        // Loopback only, no Unix socket, and settings for a short-lived test
        // cluster (the data is thrown away: no need to survive a power cut).
        let mut conf = format!(
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n",
            cluster.port
        );
        if let Some((chain, key, tls_only)) = tls {
            if tls_only {
                let hba = cluster.data.join("pg_hba.conf");
                let text = std::fs::read_to_string(&hba).expect("pg_hba.conf");
                std::fs::write(&hba, format!("hostnossl all all 0.0.0.0/0 reject\n{text}"))
                    .expect("write pg_hba.conf");
            }
            // The key must belong to the server's user, mode 0600.
            for (name, pem) in [("server.crt", chain), ("server.key", key)] {
                let path = cluster.data.join(name);
                std::fs::write(&path, pem).expect("write the server's certificate");
                #[cfg(unix)]
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .expect("chmod 600 the server's key");
                if cluster.as_postgres {
                    check(
                        "chown",
                        Command::new("chown")
                            .arg("postgres:postgres")
                            .arg(&path)
                            .output(),
                    );
                }
            }
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        let conf_path = cluster.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        cluster.start_server();
        cluster
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let program = self.bindir.join(tool);
        let output = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .current_dir(self.dir.path())
                .output()
        } else {
            Command::new(&program)
                .args(args)
                .current_dir(self.dir.path())
                .output()
        };
        check(&program.display().to_string(), output)
    }

    /// Start the server (again, after [`stop_server`](Self::stop_server)).
    pub fn start_server(&self) {
        let data = self.data.display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-t", "60", "start"],
        );
    }

    /// Stop the server at once (as a crash or a restart would).
    pub fn stop_server(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    /// Stop the server as a crash would (`-m immediate`: no shutdown
    /// checkpoint, WAL not yet written is gone), and start it again.
    pub fn crash_and_restart(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        self.start_server();
    }

    /// `psql` as the superuser on `database` of this cluster: unaligned,
    /// tuples only, stopping at the first error.
    fn psql_command(&self, database: &str) -> Command {
        let mut command = Command::new(self.psql_program());
        command
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-At", "-d", database])
            .args(["-v", "ON_ERROR_STOP=1"]);
        command
    }

    /// A `psql` session on `database` reading its statements from the
    /// returned child's stdin (write them, one per line; close stdin to end
    /// it), to hold a transaction open between other steps of a test.
    pub fn psql_session(&self, database: &str) -> std::process::Child {
        self.psql_command(database)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cannot run psql")
    }

    fn psql_program(&self) -> PathBuf {
        let psql = self.bindir.join("psql");
        if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database and its URL.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Run `sql` (one or more statements, stopping at the first error) in
    /// `database` as the superuser; what psql printed (unaligned, tuples only, trimmed).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        self.psql_each(database, &[sql])
    }

    /// [`psql`](Self::psql) with each of `commands` sent on its own, in one
    /// session (for statements that cannot run in a transaction block, such
    /// as `ALTER SYSTEM`).
    pub fn psql_each(&self, database: &str, commands: &[&str]) -> String {
        let output = check(
            "psql",
            self.psql_command(database)
                .args(commands.iter().flat_map(|c| ["-c", c]))
                .output(),
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let program = self.bindir.join("pg_ctl");
        let args = ["-D", &data, "-m", "immediate", "-w", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}
