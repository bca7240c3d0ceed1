//! One storage approach for every service.
//!
//! Each service owns its database: a SQLite file (the default, under the data directory) or a
//! PostgreSQL database (when its URL is `postgres://…`). Both are reached through sqlx's `Any`
//! driver, so one SQL text serves both: `$1` placeholders (SQLite accepts them), ids and enums as
//! TEXT, times as BIGINT microseconds, flags as BIGINT 0/1 (the `Any` driver has no portable
//! boolean). Where the two dialects differ, the
//! difference lives in the service's two migration folders (`migrations/sqlite`,
//! `migrations/postgres`), embedded in the binary and applied at start.
//!
//! Requests that create things carry a `request_id`; [`replay`] and [`remember`] keep the first
//! result of each, in the same transaction as the write it made.

use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// Which database a service talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A service's embedded migrations, one set per backend.
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// An open, migrated database.
#[derive(Debug, Clone)]
pub struct Database {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database URL {0:?} must start with sqlite:// or postgres://")]
    Scheme(String),
    #[error("can't create the database file {path} or its folder: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("can't open the database {target}: {source}")]
    Connect { target: String, source: sqlx::Error },
    #[error("can't migrate the database {target}: {source}")]
    Migrate {
        target: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// How many connections a PostgreSQL database's pool holds at most, unless told otherwise.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// Opens (creating it if needed) and migrates the database at `url`, with a pool of
/// [`DEFAULT_POOL_SIZE`] connections for PostgreSQL.
pub async fn open(url: &str, migrations: &Migrations) -> Result<Database, OpenError> {
    open_with(url, migrations, DEFAULT_POOL_SIZE).await
}

/// [`open`] with a PostgreSQL pool of at most `pool_size` connections (at least 1). A SQLite
/// database always has one connection: SQLite has one writer at a time anyway, and a single
/// connection can't fail a read-then-write transaction with SQLITE_BUSY.
pub async fn open_with(
    url: &str,
    migrations: &Migrations,
    pool_size: u32,
) -> Result<Database, OpenError> {
    sqlx::any::install_default_drivers();
    let target = redact(url);
    let connect = |source| OpenError::Connect {
        target: target.clone(),
        source,
    };
    let (backend, pool) = if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url).map_err(connect)?;
        // The file and its folder only the server's user reads (password hashes, e-mail
        // addresses, the audit trail); SQLite gives the WAL files the same mode.
        let file = options.get_filename();
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            crate::private_file::ensure(file).map_err(|source| OpenError::File {
                path: file.display().to_string(),
                source,
            })?;
        }
        // WAL lets readers go on while one connection writes; the mode is kept in the file, so
        // setting it once here holds for the `Any` connections below.
        let first = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .connect()
            .await
            .map_err(connect)?;
        first.close().await.map_err(connect)?;
        // One connection (see `open_with`). PostgreSQL is for more load.
        let pool = pool_options(1).connect(url).await.map_err(connect)?;
        (Backend::Sqlite, pool)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        // A server that takes the connection but never answers would otherwise hold the start.
        tokio::time::timeout(Duration::from_secs(10), ensure_postgres_database(url))
            .await
            .unwrap_or_else(|_| {
                Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no answer within 10 s",
                )))
            })
            .map_err(connect)?;
        let options = AnyConnectOptions::from_str(url).map_err(connect)?;
        let pool = pool_options(pool_size.max(1))
            .connect_with(options)
            .await
            .map_err(connect)?;
        (Backend::Postgres, pool)
    } else {
        return Err(OpenError::Scheme(target));
    };
    let migrator = match backend {
        Backend::Sqlite => migrations.sqlite,
        Backend::Postgres => migrations.postgres,
    };
    migrator
        .run(&pool)
        .await
        .map_err(|source| OpenError::Migrate { target, source })?;
    Ok(Database { pool, backend })
}

/// A connection idle longer than this is pinged before use (see [`pool_options`]).
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);

fn pool_options(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings every connection before handing it out, by default: one more round trip
        // to SQLite's worker thread, or to PostgreSQL, for every query, which doubled the cost
        // of a point read. Only a connection that sat idle for a while is pinged: that is the
        // one an idle timeout or a database restart may have cut (a failed ping drops it and
        // the pool opens another).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < PING_AFTER_IDLE {
                    return Ok(true);
                }
                Ok(conn.ping().await.is_ok())
            })
        })
}

async fn ensure_postgres_database(url: &str) -> Result<(), sqlx::Error> {
    if Any::database_exists(url).await? {
        return Ok(());
    }
    match Any::create_database(url).await {
        Ok(()) => Ok(()),
        // Another process created it first: fine.
        Err(_) if Any::database_exists(url).await? => Ok(()),
        Err(e) => Err(e),
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let (head, query) = match url[scheme_end..].split_once('?') {
        Some((head, query)) => (&url[scheme_end..scheme_end + head.len()], Some(query)),
        None => (&url[scheme_end..], None),
    };
    let mut out = url[..scheme_end].to_string();
    // The user info ends at the last '@' (a password may hold '@' or '/').
    match head.rfind('@') {
        Some(at) => {
            match head[..at].split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(&head[..at]),
            }
            out.push_str(&head[at..]);
        }
        None => out.push_str(head),
    }
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The SQLite URL of a service's database file inside a data directory.
pub fn sqlite_url(data_dir: &Path, service: &str) -> String {
    format!(
        "sqlite://{}",
        data_dir.join(format!("{service}.db")).display()
    )
}

/// True when a database error is a unique-constraint violation (either backend).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// What a `request_id` was used for before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Never seen: do the work.
    New,
    /// Seen with the same request: answer with this resource.
    Same(String),
    /// Seen with a different request.
    Conflict,
}

impl Replay {
    /// The resource an earlier identical request made (answer with it), `None` for a new
    /// request, or [`RequestIdReused`] when the id came with a different request before.
    pub fn earlier(self) -> Result<Option<String>, RequestIdReused> {
        match self {
            Replay::New => Ok(None),
            Replay::Same(resource) => Ok(Some(resource)),
            Replay::Conflict => Err(RequestIdReused),
        }
    }
}

/// A `request_id` that came with a different request before: INVALID_ARGUMENT
/// (`REQUEST_ID_REUSED`) on `request_id`, in every service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestIdReused;

impl RequestIdReused {
    /// The field violation every service answers with.
    pub fn violations(self) -> crate::status::Violations {
        crate::status::Violations::one(
            "request_id",
            "was used before for a different request; use a new UUID for a new request",
        )
    }
}

/// A fingerprint of a request (its encoding, with `request_id` cleared by the caller), to tell a
/// retry from a different request that reuses an id.
pub fn fingerprint(request: &impl prost::Message) -> String {
    Sha256::digest(request.encode_to_vec())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Looks up a request id of `method`. Every service's migrations create the `request_ids`
/// table this reads.
pub async fn replay(
    conn: &mut AnyConnection,
    method: &str,
    request_id: Uuid,
    fingerprint: &str,
) -> Result<Replay, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT fingerprint, resource_id FROM request_ids WHERE method = $1 AND request_id = $2",
    )
    .bind(method)
    .bind(request_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Replay::New,
        Some((seen, resource)) if seen == fingerprint => Replay::Same(resource),
        Some(_) => Replay::Conflict,
    })
}

/// The resource a request id of `method` created, whatever the request was (`None`: none).
pub async fn made_by(
    conn: &mut AnyConnection,
    method: &str,
    request_id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT resource_id FROM request_ids WHERE method = $1 AND request_id = $2")
            .bind(method)
            .bind(request_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(resource,)| resource))
}

/// Records the resource a request id created, in the transaction that created it. A concurrent
/// twin fails here with a unique violation and rolls its work back.
pub async fn remember(
    conn: &mut AnyConnection,
    method: &str,
    request_id: Uuid,
    fingerprint: &str,
    resource_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO request_ids (method, request_id, fingerprint, resource_id, create_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(method)
    .bind(request_id.to_string())
    .bind(fingerprint)
    .bind(resource_id)
    .bind(crate::time::now_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A server's migrations, `MIGRATIONS`, one set per backend, from its crate's
/// `migrations/{sqlite,postgres}/` folders (embedded at build time); with `open`, also
/// `open(url)`, which opens and migrates the server's database.
#[macro_export]
macro_rules! migrations {
    () => {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

        /// The migrations, one set per backend.
        pub const MIGRATIONS: $crate::store::Migrations = $crate::store::Migrations {
            sqlite: &SQLITE,
            postgres: &POSTGRES,
        };
    };
    (open) => {
        $crate::migrations!();

        /// Opens and migrates the database.
        pub async fn open(url: &str) -> Result<$crate::store::Database, $crate::store::OpenError> {
            $crate::store::open(url, &MIGRATIONS).await
        }

        /// Opens and migrates the database, with a PostgreSQL pool of at most `pool_size`
        /// connections.
        pub async fn open_with(
            url: &str,
            pool_size: u32,
        ) -> Result<$crate::store::Database, $crate::store::OpenError> {
            $crate::store::open_with(url, &MIGRATIONS, pool_size).await
        }
    };
}

/// Before a write checks anything: the resource an earlier identical request with this id made
/// (`None` when the id is new, or there is none), or [`RequestIdReused`] when the id came with a
/// different request. So a reused id is told as such first (AIP-155), not as whatever else the
/// changed request would be refused for; [`write_once`] still decides in its transaction.
pub async fn seen<E>(
    db: &Database,
    method: &str,
    request_id: Option<Uuid>,
    fingerprint: &str,
) -> Result<Option<String>, E>
where
    E: From<sqlx::Error> + From<RequestIdReused>,
{
    let Some(rid) = request_id else {
        return Ok(None);
    };
    let mut conn = db.pool.acquire().await?;
    Ok(replay(&mut conn, method, rid, fingerprint)
        .await?
        .earlier()?)
}

/// What [`write_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The write ran and committed; the resource it made.
    New(String),
    /// The request id came with this request before: the resource that call made.
    Earlier(String),
}

impl Written {
    /// The resource, new or earlier.
    pub fn resource(self) -> String {
        match self {
            Written::New(id) | Written::Earlier(id) => id,
        }
    }
}

/// A write done at most once per request id (AIP-155), the one pattern every service's
/// creating methods follow. In one transaction: an earlier identical request answers with what
/// it made (a different request with the same id is [`RequestIdReused`]); otherwise `write`
/// runs and its resource is remembered with the id, then it commits. A concurrent twin that
/// committed first makes this transaction fail on a unique constraint: then the twin's answer
/// is this call's answer too. Without a request id, `write` simply runs in a transaction.
pub async fn write_once<E>(
    db: &Database,
    method: &str,
    request_id: Option<Uuid>,
    fingerprint: &str,
    write: impl AsyncFnOnce(&mut AnyConnection) -> Result<String, E>,
) -> Result<Written, E>
where
    E: From<sqlx::Error> + From<RequestIdReused> + UniqueViolation,
{
    let attempt = async {
        let mut tx = db.pool.begin().await?;
        if let Some(rid) = request_id
            && let Some(id) = replay(&mut tx, method, rid, fingerprint).await?.earlier()?
        {
            return Ok(Written::Earlier(id));
        }
        let id = write(&mut tx).await?;
        if let Some(rid) = request_id {
            remember(&mut tx, method, rid, fingerprint, &id).await?;
        }
        tx.commit().await?;
        Ok::<_, E>(Written::New(id))
    };
    match (attempt.await, request_id) {
        (Err(e), Some(rid)) if e.is_unique_violation() => {
            let mut conn = db.pool.acquire().await?;
            match replay(&mut conn, method, rid, fingerprint)
                .await?
                .earlier()?
            {
                Some(id) => Ok(Written::Earlier(id)),
                None => Err(e),
            }
        }
        (other, _) => other,
    }
}

/// Whether an error is a unique-constraint violation (a concurrent write got there first).
pub trait UniqueViolation {
    fn is_unique_violation(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum Failed {
        Database(sqlx::Error),
        Reused,
    }

    impl From<sqlx::Error> for Failed {
        fn from(e: sqlx::Error) -> Self {
            Failed::Database(e)
        }
    }

    impl From<RequestIdReused> for Failed {
        fn from(_: RequestIdReused) -> Self {
            Failed::Reused
        }
    }

    impl UniqueViolation for Failed {
        fn is_unique_violation(&self) -> bool {
            matches!(self, Failed::Database(e) if is_unique_violation(e))
        }
    }

    async fn things() -> (tempfile::TempDir, Database) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = AnyPoolOptions::new().connect(&url).await.unwrap();
        for ddl in [
            "CREATE TABLE request_ids (method TEXT NOT NULL, request_id TEXT NOT NULL, \
             fingerprint TEXT NOT NULL, resource_id TEXT NOT NULL, create_time BIGINT NOT NULL, \
             PRIMARY KEY (method, request_id))",
            "CREATE TABLE things (id TEXT PRIMARY KEY)",
        ] {
            sqlx::query(ddl).execute(&pool).await.unwrap();
        }
        let db = Database {
            pool,
            backend: Backend::Sqlite,
        };
        (dir, db)
    }

    async fn make(db: &Database, rid: Option<Uuid>, fingerprint: &str) -> Result<Written, Failed> {
        write_once(db, "Make", rid, fingerprint, async |tx| {
            let id = Uuid::now_v7().to_string();
            sqlx::query("INSERT INTO things (id) VALUES ($1)")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            Ok(id)
        })
        .await
    }

    async fn count(db: &Database) -> i64 {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM things")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        n
    }

    #[tokio::test]
    async fn a_request_id_writes_once_and_its_retries_answer_what_it_made() {
        let (_dir, db) = things().await;
        let rid = Some(Uuid::new_v4());
        let Written::New(first) = make(&db, rid, "f").await.unwrap() else {
            panic!("the first call writes");
        };
        assert_eq!(make(&db, rid, "f").await.unwrap(), Written::Earlier(first));
        assert!(matches!(make(&db, rid, "other").await, Err(Failed::Reused)));
        assert_eq!(count(&db).await, 1);
        // Without a request id every call writes.
        assert!(matches!(make(&db, None, "f").await, Ok(Written::New(_))));
        assert!(matches!(make(&db, None, "f").await, Ok(Written::New(_))));
        assert_eq!(count(&db).await, 3);
    }

    #[tokio::test]
    async fn a_failed_write_leaves_nothing_and_remembers_nothing() {
        let (_dir, db) = things().await;
        let rid = Some(Uuid::new_v4());
        let failed = write_once(&db, "Make", rid, "f", async |tx| {
            sqlx::query("INSERT INTO things (id) VALUES ('half')")
                .execute(&mut *tx)
                .await?;
            Err::<String, _>(Failed::Reused)
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(count(&db).await, 0);
        assert!(matches!(make(&db, rid, "f").await, Ok(Written::New(_))));
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redact("postgres://u:p@ss/w@127.0.0.1:1/db"),
            "postgres://u:***@127.0.0.1:1/db"
        );
        assert_eq!(
            redact("postgres://db/x?user=u&password=s3kret&sslmode=require"),
            "postgres://db/x?user=u&password=***&sslmode=require"
        );
        assert_eq!(redact("sqlite://data/t.db"), "sqlite://data/t.db");
    }
}
