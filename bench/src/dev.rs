//! The system under test: the real `partnerhub` binary running `partnerhub dev` in a process of
//! its own (so its CPU and memory are its own), on free loopback ports, with a fresh data folder
//! or fresh PostgreSQL databases that are dropped afterwards.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running `partnerhub dev`.
pub struct Dev {
    child: Child,
    pub gateway: SocketAddr,
    /// In `partnerhub::system::SERVICES` order.
    pub services: [SocketAddr; 4],
    pub operator: String,
    /// The base database URL given to `dev` (PostgreSQL), or None for SQLite files.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    log: PathBuf,
    postgres_admin: Option<String>,
    _dir: tempfile::TempDir,
}

/// The `partnerhub` binary: the one named, or the release build next to this bench (built
/// first with the cargo that runs the bench, so it is never stale).
pub fn binary(named: Option<PathBuf>) -> Result<PathBuf, Error> {
    if let Some(path) = named {
        return Ok(path);
    }
    let here = std::env::current_exe()?;
    let beside = here
        .parent()
        .map(|dir| dir.join("partnerhub"))
        .ok_or("the bench's own folder is unknown")?;
    if let Ok(cargo) = std::env::var("CARGO") {
        let profile_release = here
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "release");
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "--bin", "partnerhub"]);
        if profile_release {
            build.arg("--release");
        }
        let status = build.status()?;
        if !status.success() {
            return Err("cargo build --bin partnerhub failed".into());
        }
    }
    if !beside.exists() {
        return Err(format!(
            "{} is missing: run the bench with `cargo run --release -p partnerhub-bench`, or name the binary with --partnerhub",
            beside.display()
        )
        .into());
    }
    Ok(beside)
}

/// `n` consecutive free loopback ports (checked by binding them; `dev` binds them a moment later),
/// between 20000 and 32000: below Linux's ephemeral range, where the bench's own outgoing
/// connections could take one between the check and `dev`'s bind.
fn free_ports(n: u16) -> Result<u16, Error> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let seed = u64::from(std::process::id()) ^ now.map_or(0, |d| u64::from(d.subsec_nanos()));
    for attempt in 0..200u64 {
        let first = 20_000 + ((seed.wrapping_mul(7919) + attempt * 104_729) % 12_000) as u16;
        let all_free = (0..n).all(|i| TcpListener::bind(("127.0.0.1", first + i)).is_ok());
        if all_free {
            return Ok(first);
        }
    }
    Err("no free loopback ports".into())
}

impl Dev {
    /// Starts `partnerhub dev`; SQLite in a new folder, or new databases on the PostgreSQL
    /// server of `postgres` (any database URL of that server).
    pub fn start(binary: &Path, postgres: Option<&str>) -> Result<Dev, Error> {
        let dir = tempfile::Builder::new()
            .prefix("partnerhub-bench")
            .tempdir()?;
        let data_dir = dir.path().join("data");
        let (database_url, postgres_admin) = match postgres {
            Some(admin) => {
                let server = admin.rsplit_once('/').map_or(admin, |(s, _)| s);
                let base = format!("phbench_{}", uuid::Uuid::new_v4().simple());
                (Some(format!("{server}/{base}")), Some(admin.to_string()))
            }
            None => (None, None),
        };
        // The gateway, then the four services, then the five metrics ports.
        let gateway_port = free_ports(10)?;
        let first_service = gateway_port + 1;
        let first_metrics = gateway_port + 5;
        let log = dir.path().join("partnerhub.log");
        let mut command = Command::new(binary);
        // The defaults are what is measured: no settings from this shell's environment.
        for (key, _) in std::env::vars() {
            if key.starts_with("PARTNERHUB_") || key.starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        command
            .arg("dev")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--gateway-addr", &format!("127.0.0.1:{gateway_port}")])
            .args(["--first-service-port", &first_service.to_string()])
            .args(["--first-metrics-port", &first_metrics.to_string()]);
        if let Some(url) = &database_url {
            command.args(["--database-url", url]);
        }
        // The sign-in scenarios measure what a sign-in costs, not the rate limit in front of
        // it (a binary from before the limit has no such flags).
        let help = Command::new(binary).args(["dev", "--help"]).output()?;
        if String::from_utf8_lossy(&help.stdout).contains("--sign-ins-per-address") {
            command.args(["--sign-ins-per-address", "1000000000"]);
            command.args(["--sign-ins-per-user", "1000000000"]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no standard output")?;
        // `dev` prints the operator token command once everything listens.
        let mut ready = false;
        for line in BufReader::new(stdout).lines() {
            if line?.starts_with("operator token:") {
                ready = true;
                break;
            }
        }
        if !ready {
            let _ = child.kill();
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("partnerhub dev did not start: {}", said.trim()).into());
        }
        let token = Command::new(binary)
            .args(["token", "--operator", "--minutes", "600", "--data-dir"])
            .arg(&data_dir)
            .output()?;
        if !token.status.success() {
            let _ = child.kill();
            return Err("partnerhub token --operator failed".into());
        }
        let operator = String::from_utf8(token.stdout)?.trim().to_string();
        let ip = [127, 0, 0, 1];
        Ok(Dev {
            child,
            gateway: SocketAddr::from((ip, gateway_port)),
            services: std::array::from_fn(|i| SocketAddr::from((ip, first_service + i as u16))),
            operator,
            database_url,
            data_dir,
            log,
            postgres_admin,
            _dir: dir,
        })
    }

    /// The last lines `dev` logged (the log goes with the bench's folder).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The database URL of one service, as `dev` derived it.
    pub fn service_database(&self, service: &str) -> String {
        partnerhub::system::database_url(self.database_url.as_deref(), &self.data_dir, service)
    }

    /// Stops `dev` and drops its PostgreSQL databases.
    pub async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (Some(admin), Some(url)) = (self.postgres_admin.take(), self.database_url.take())
        else {
            return;
        };
        use sqlx::Connection;
        let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&admin).await else {
            return;
        };
        let base = url.rsplit_once('/').map_or("", |(_, b)| b).to_string();
        for service in partnerhub::system::SERVICES.iter().chain(&["gateway"]) {
            // The names are ours ("phbench_<hex>_<service>"): quoting is enough.
            let sql = format!("DROP DATABASE IF EXISTS \"{base}_{service}\" WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Writes `rows` users of `tenant_id` straight into the tenants database (as a migration or an
/// import would; the API would take hours to make a million). Their ids sort after every id
/// the system makes, so the list's first page is the real users'.
pub async fn seed_users(url: &str, tenant_id: &str, rows: i64) -> Result<Duration, Error> {
    use sqlx::Connection;
    let started = Instant::now();
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::sqlite::SqliteConnection::connect(url).await?;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
             INSERT INTO users (id, tenant_id, user_name, display_name, email, roles, \
               password_hash, password_change_required, failed_sign_ins, locked_until, version, \
               create_time, update_time, password_changed_at) \
             SELECT printf('ffffffff-0000-7000-8000-%012d', i), $1, \
               printf('bench%07d@bench.example', i), printf('Bench user %d', i), \
               printf('bench%07d@bench.example', i), 'ROLE_BILLING_ADMIN', 'not a hash', \
               0, 0, 0, 1, 0, 0, 0 FROM n",
        )
        .bind(tenant_id)
        .bind(rows)
        .execute(&mut conn)
        .await?;
        conn.close().await?;
    } else {
        let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
        sqlx::query(
            "INSERT INTO users (id, tenant_id, user_name, display_name, email, roles, \
               password_hash, password_change_required, failed_sign_ins, locked_until, version, \
               create_time, update_time, password_changed_at) \
             SELECT 'ffffffff-0000-7000-8000-' || lpad(i::text, 12, '0'), $1, \
               'bench' || lpad(i::text, 7, '0') || '@bench.example', 'Bench user ' || i, \
               'bench' || lpad(i::text, 7, '0') || '@bench.example', 'ROLE_BILLING_ADMIN', \
               'not a hash', 0, 0, 0, 1, 0, 0, 0 FROM generate_series(1, $2::bigint) AS i",
        )
        .bind(tenant_id)
        .bind(rows)
        .execute(&mut conn)
        .await?;
        sqlx::query("ANALYZE users").execute(&mut conn).await?;
        conn.close().await?;
    }
    Ok(started.elapsed())
}
