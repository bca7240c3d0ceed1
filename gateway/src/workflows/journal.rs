//! The journal of the workflows that finish without their caller (`CreateCustomer`,
//! `AcceptInvitation`), in the gateway's database: each is recorded before its first write with
//! the request and the caller's principal as the workflow used them, and ends done or failed.
//! Until then any gateway may take it up again (`resume.rs`): a conditional UPDATE of
//! `next_attempt_time` is the lease that keeps two gateways from working on it at once. Every
//! statement it runs is here, one text for SQLite and PostgreSQL.

use partnerhub_kit::page::Page;
use partnerhub_kit::row::{decoded, enum_at};
use partnerhub_kit::store::Database;
use partnerhub_kit::time::now_micros;
use partnerhub_proto::gateway as gw;
use partnerhub_proto::tenants::Principal;
use prost::Message;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};
use tonic::{Code, Status};

/// A workflow that finishes without its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CreateCustomer,
    AcceptInvitation,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::CreateCustomer, Kind::AcceptInvitation];

    pub fn wire(self) -> gw::WorkflowKind {
        match self {
            Kind::CreateCustomer => gw::WorkflowKind::CreateCustomer,
            Kind::AcceptInvitation => gw::WorkflowKind::AcceptInvitation,
        }
    }

    /// The kind named by the wire's enum; `None` for unspecified.
    pub fn of(wire: gw::WorkflowKind) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.wire() == wire)
    }

    /// As the table keeps it: the wire enum's value name.
    fn name(self) -> &'static str {
        self.wire().as_str_name()
    }

    fn from_name(name: &str) -> Option<Kind> {
        gw::WorkflowKind::from_str_name(name).and_then(Kind::of)
    }

    /// The method that submits it, as metrics and logs name it.
    pub fn method(self) -> &'static str {
        match self {
            Kind::CreateCustomer => "CreateCustomer",
            Kind::AcceptInvitation => "AcceptInvitation",
        }
    }
}

/// Where a workflow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Submitted, not finished: some gateway runs it, or will.
    Running,
    /// Finished: everything it makes exists.
    Done,
    /// Refused for good (or given up), and what it had made undone.
    Failed,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Running => "RUNNING",
            State::Done => "DONE",
            State::Failed => "FAILED",
        }
    }

    fn from_name(name: &str) -> Option<State> {
        [State::Running, State::Done, State::Failed]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// How far a recorded workflow got.
pub enum Progress {
    Running,
    Done,
    /// Failed for good, answered with this status (its retries too).
    Failed(Status),
}

/// A workflow about to write, as it is recorded.
pub struct Submitted<'a> {
    pub kind: Kind,
    /// What the workflow is known by within its kind (its request id, or the acceptance's id).
    pub key: String,
    /// The request id the caller sent ("" if none).
    pub request_id: &'a str,
    /// The request as the caller sent it, encoded.
    pub request: Vec<u8>,
    pub who: &'a Principal,
}

/// An unfinished workflow as the journal keeps it.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its row's id, a UUIDv7: the order workflows were submitted in.
    pub id: String,
    pub kind: Kind,
    pub key: String,
    pub request_id: String,
    /// The request, encoded.
    pub request: Vec<u8>,
    pub who: Principal,
    pub attempts: i64,
    pub next_attempt_time: i64,
    pub last_error: String,
    pub give_up_time: i64,
    pub create_time: i64,
}

impl FromRow<'_, AnyRow> for Record {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Record {
            id: row.try_get("id")?,
            kind: enum_at(row, "kind", Kind::from_name)?,
            key: row.try_get("workflow_key")?,
            request_id: row.try_get("request_id")?,
            request: row.try_get("request")?,
            who: decoded(row, "principal", |bytes: Vec<u8>| {
                Principal::decode(bytes.as_slice())
            })?,
            attempts: row.try_get("attempts")?,
            next_attempt_time: row.try_get("next_attempt_time")?,
            last_error: row.try_get("last_error")?,
            give_up_time: row.try_get("give_up_time")?,
            create_time: row.try_get("create_time")?,
        })
    }
}

impl Record {
    pub fn to_proto(&self) -> gw::UnfinishedWorkflow {
        use partnerhub_kit::time::timestamp;
        gw::UnfinishedWorkflow {
            kind: self.kind.wire() as i32,
            id: self.key.clone(),
            request_id: self.request_id.clone(),
            user_id: self.who.user_id.clone(),
            tenant_id: self.who.tenant_id.clone(),
            create_time: Some(timestamp(self.create_time)),
            attempts: i32::try_from(self.attempts).unwrap_or(i32::MAX),
            next_attempt_time: Some(timestamp(self.next_attempt_time)),
            last_error: self.last_error.clone(),
            give_up_time: Some(timestamp(self.give_up_time)),
        }
    }
}

/// The columns of a record, as [`Record`]'s `FromRow` reads them.
macro_rules! record_columns {
    () => {
        "id, kind, workflow_key, request_id, request, principal, attempts, next_attempt_time, \
         last_error, give_up_time, create_time"
    };
}

/// `ListUnfinishedWorkflows`, with the kind filter as `kind = $3` or, unset, `$3 = ''`, so that
/// each walks `workflows_by_state` in id order.
macro_rules! list_unfinished_sql {
    ($kind:literal) => {
        concat!(
            "SELECT ",
            record_columns!(),
            " FROM workflows WHERE state = $1 AND id > $2 AND ",
            $kind,
            " ORDER BY id LIMIT $4"
        )
    };
}

/// A status's code, message and details, as a failed workflow keeps its answer.
fn parts(status: &Status) -> (i64, &str, Vec<u8>) {
    (
        i64::from(i32::from(status.code())),
        status.message(),
        status.details().to_vec(),
    )
}

/// "UNAVAILABLE: message", as a workflow's last error is shown to operators.
pub fn error_text(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// The workflows' store.
#[derive(Debug, Clone)]
pub struct Journal {
    db: Database,
}

impl Journal {
    pub fn new(db: Database) -> Self {
        Journal { db }
    }

    /// How far the workflow got; `None` when it is not recorded.
    pub async fn progress(&self, kind: Kind, key: &str) -> Result<Option<Progress>, sqlx::Error> {
        let row: Option<(String, i64, String, Vec<u8>)> = sqlx::query_as(
            "SELECT state, failure_code, failure_message, failure_details FROM workflows \
             WHERE kind = $1 AND workflow_key = $2",
        )
        .bind(kind.name())
        .bind(key)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some((state, code, message, details)) = row else {
            return Ok(None);
        };
        Ok(Some(match State::from_name(&state) {
            Some(State::Running) => Progress::Running,
            Some(State::Done) => Progress::Done,
            Some(State::Failed) => {
                let code = i32::try_from(code).map_or(Code::Unknown, Code::from_i32);
                Progress::Failed(Status::with_details(code, message, details.into()))
            }
            None => return Err(partnerhub_kit::row::undecodable("state", state)),
        }))
    }

    /// Records a workflow before its first write, unless it was before (a retry, or a
    /// resumed one): gateways take it up from `resume_at`, and give it up at `give_up_at`.
    /// Answers how far it got.
    pub async fn begin(
        &self,
        submitted: &Submitted<'_>,
        resume_at: i64,
        give_up_at: i64,
    ) -> Result<Progress, sqlx::Error> {
        let now = now_micros();
        let inserted: Option<(String,)> = sqlx::query_as(
            "INSERT INTO workflows (id, kind, workflow_key, request_id, request, principal, \
             user_id, tenant_id, state, attempts, next_attempt_time, last_error, failure_code, \
             failure_message, failure_details, give_up_time, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, '', 0, '', $11, $12, $13, $13) \
             ON CONFLICT (kind, workflow_key) DO NOTHING RETURNING id",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(submitted.kind.name())
        .bind(&submitted.key)
        .bind(submitted.request_id)
        .bind(submitted.request.clone())
        .bind(submitted.who.encode_to_vec())
        .bind(&submitted.who.user_id)
        .bind(&submitted.who.tenant_id)
        .bind(State::Running.name())
        .bind(resume_at)
        .bind(Vec::<u8>::new())
        .bind(give_up_at)
        .bind(now)
        .fetch_optional(&self.db.pool)
        .await?;
        if inserted.is_some() {
            return Ok(Progress::Running);
        }
        Ok(self
            .progress(submitted.kind, &submitted.key)
            .await?
            .unwrap_or(Progress::Running))
    }

    /// The workflow finished. Its request is no longer needed, and goes: an acceptance's holds
    /// the invitation's code, which may still be good for others (an advisor's link).
    pub async fn done(&self, kind: Kind, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE workflows SET state = $3, last_error = '', request = $6, update_time = $4 \
             WHERE kind = $1 AND workflow_key = $2 AND state = $5",
        )
        .bind(kind.name())
        .bind(key)
        .bind(State::Done.name())
        .bind(now_micros())
        .bind(State::Running.name())
        .bind(Vec::<u8>::new())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The workflow failed for good with `status` (what it had made is undone): its retries
    /// are answered `status`. Its request goes, as when it is done.
    pub async fn failed(&self, kind: Kind, key: &str, status: &Status) -> Result<(), sqlx::Error> {
        let (code, message, details) = parts(status);
        sqlx::query(
            "UPDATE workflows SET state = $3, last_error = $4, failure_code = $5, \
             failure_message = $6, failure_details = $7, request = $10, update_time = $8 \
             WHERE kind = $1 AND workflow_key = $2 AND state = $9",
        )
        .bind(kind.name())
        .bind(key)
        .bind(State::Failed.name())
        .bind(error_text(status))
        .bind(code)
        .bind(message)
        .bind(details)
        .bind(now_micros())
        .bind(State::Running.name())
        .bind(Vec::<u8>::new())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The workflow stopped unfinished at `error`: a gateway takes it up again from `next`.
    pub async fn stopped(
        &self,
        kind: Kind,
        key: &str,
        error: &str,
        next: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE workflows SET last_error = $3, next_attempt_time = $4, update_time = $5 \
             WHERE kind = $1 AND workflow_key = $2 AND state = $6",
        )
        .bind(kind.name())
        .bind(key)
        .bind(error)
        .bind(next)
        .bind(now_micros())
        .bind(State::Running.name())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Takes up to `limit` unfinished workflows that are due, each leased to this gateway until
    /// `lease_until`: of two gateways claiming one, the conditional UPDATE lets one through.
    pub async fn claim(&self, limit: i64, lease_until: i64) -> Result<Vec<Record>, sqlx::Error> {
        let now = now_micros();
        let due: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM workflows WHERE state = $1 AND next_attempt_time <= $2 \
             ORDER BY next_attempt_time LIMIT $3",
        )
        .bind(State::Running.name())
        .bind(now)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        let mut claimed = Vec::new();
        for (id,) in due {
            let taken = sqlx::query(
                "UPDATE workflows SET attempts = attempts + 1, next_attempt_time = $3, \
                 update_time = $2 WHERE id = $1 AND state = $4 AND next_attempt_time <= $2",
            )
            .bind(&id)
            .bind(now)
            .bind(lease_until)
            .bind(State::Running.name())
            .execute(&self.db.pool)
            .await?;
            if taken.rows_affected() == 0 {
                continue;
            }
            let record: Option<Record> = sqlx::query_as(concat!(
                "SELECT ",
                record_columns!(),
                " FROM workflows WHERE id = $1"
            ))
            .bind(&id)
            .fetch_optional(&self.db.pool)
            .await?;
            claimed.extend(record);
        }
        Ok(claimed)
    }

    /// How many workflows of each kind are unfinished.
    pub async fn unfinished_counts(&self) -> Result<Vec<(Kind, i64)>, sqlx::Error> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, COUNT(*) FROM workflows WHERE state = $1 GROUP BY kind")
                .bind(State::Running.name())
                .fetch_all(&self.db.pool)
                .await?;
        Ok(Kind::ALL
            .into_iter()
            .map(|kind| {
                let n = rows
                    .iter()
                    .find(|(name, _)| name == kind.name())
                    .map_or(0, |(_, n)| *n);
                (kind, n)
            })
            .collect())
    }

    /// A page of the unfinished workflows (of `kind`, if given), oldest first.
    pub async fn unfinished(
        &self,
        kind: Option<Kind>,
        page: &Page,
    ) -> Result<Vec<Record>, sqlx::Error> {
        let sql = match kind {
            Some(_) => list_unfinished_sql!("kind = $3"),
            None => list_unfinished_sql!("$3 = ''"),
        };
        sqlx::query_as(sql)
            .bind(State::Running.name())
            .bind(&page.after)
            .bind(kind.map_or("", Kind::name))
            .bind(page.limit())
            .fetch_all(&self.db.pool)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal in a database of its own: SQLite in a temporary folder, or a PostgreSQL
    /// database of its own when `PARTNERHUB_TEST_DATABASE_URL` names a server.
    struct Scratch {
        journal: Journal,
        _dir: tempfile::TempDir,
        /// The server's URL and the database to drop.
        postgres: Option<(String, String)>,
    }

    impl Scratch {
        async fn new() -> Scratch {
            let dir = tempfile::tempdir().unwrap();
            let admin = std::env::var("PARTNERHUB_TEST_DATABASE_URL").unwrap_or_default();
            let (url, postgres) = match admin.rsplit_once('/') {
                Some((server, _)) => {
                    let name = format!("ph_{}_journal", uuid::Uuid::new_v4().simple());
                    (format!("{server}/{name}"), Some((admin.clone(), name)))
                }
                None => (
                    partnerhub_kit::store::sqlite_url(dir.path(), "gateway"),
                    None,
                ),
            };
            let db = crate::audit::open(&url).await.unwrap();
            Scratch {
                journal: Journal::new(db),
                _dir: dir,
                postgres,
            }
        }

        async fn drop_database(self) {
            use sqlx::Connection;
            let Some((admin, name)) = self.postgres else {
                return;
            };
            self.journal.db.pool.close().await;
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }

    fn who() -> Principal {
        Principal {
            user_id: "u".into(),
            tenant_id: "t".into(),
            ..Default::default()
        }
    }

    fn submitted<'a>(key: &str, who: &'a Principal, request: &[u8]) -> Submitted<'a> {
        Submitted {
            kind: Kind::CreateCustomer,
            key: key.into(),
            request_id: "",
            request: request.to_vec(),
            who,
        }
    }

    #[tokio::test]
    async fn a_workflow_is_recorded_once_and_kept_as_first_submitted() {
        let scratch = Scratch::new().await;
        let j = &scratch.journal;
        let who = who();
        let begun = j.begin(&submitted("k", &who, b"first"), 0, i64::MAX).await;
        assert!(matches!(begun, Ok(Progress::Running)));
        let again = j.begin(&submitted("k", &who, b"second"), 0, i64::MAX).await;
        assert!(matches!(again, Ok(Progress::Running)));
        let claimed = j.claim(10, i64::MAX).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].request, b"first");
        assert_eq!(claimed[0].who, who);
        assert_eq!(claimed[0].attempts, 1);
        scratch.drop_database().await;
    }

    #[tokio::test]
    async fn of_two_gateways_claiming_a_due_workflow_one_gets_it_until_its_lease_ends() {
        let scratch = Scratch::new().await;
        let j = &scratch.journal;
        let who = who();
        j.begin(&submitted("k", &who, b""), 0, i64::MAX)
            .await
            .unwrap();
        let (a, b) = tokio::join!(j.claim(10, i64::MAX), j.claim(10, i64::MAX));
        assert_eq!(a.unwrap().len() + b.unwrap().len(), 1);
        assert!(j.claim(10, i64::MAX).await.unwrap().is_empty(), "leased");
        // The attempt stopped: due again at once.
        j.stopped(Kind::CreateCustomer, "k", "UNAVAILABLE: down", 0)
            .await
            .unwrap();
        let again = j.claim(10, i64::MAX).await.unwrap();
        assert_eq!(again[0].attempts, 2);
        assert_eq!(again[0].last_error, "UNAVAILABLE: down");
        // Not yet due: submitted now, taken up later.
        j.begin(&submitted("later", &who, b""), i64::MAX, i64::MAX)
            .await
            .unwrap();
        assert!(j.claim(10, i64::MAX).await.unwrap().is_empty());
        scratch.drop_database().await;
    }

    #[tokio::test]
    async fn a_finished_workflow_is_neither_unfinished_nor_taken_up_and_a_failed_one_keeps_its_answer()
     {
        let scratch = Scratch::new().await;
        let j = &scratch.journal;
        let who = who();
        for key in ["done", "failed", "running"] {
            j.begin(&submitted(key, &who, b"a code"), i64::MAX, i64::MAX)
                .await
                .unwrap();
        }
        j.done(Kind::CreateCustomer, "done").await.unwrap();
        let (request,): (Vec<u8>,) =
            sqlx::query_as("SELECT request FROM workflows WHERE workflow_key = 'done'")
                .fetch_one(&j.db.pool)
                .await
                .unwrap();
        assert!(request.is_empty(), "a finished workflow keeps no request");
        let refusal = Status::failed_precondition("no");
        j.failed(Kind::CreateCustomer, "failed", &refusal)
            .await
            .unwrap();
        // Only a running workflow ends: a late "done" leaves the failure as it was.
        j.done(Kind::CreateCustomer, "failed").await.unwrap();
        match j.progress(Kind::CreateCustomer, "failed").await.unwrap() {
            Some(Progress::Failed(status)) => {
                assert_eq!(status.code(), Code::FailedPrecondition);
                assert_eq!(status.message(), "no");
            }
            _ => panic!("failed"),
        }
        assert!(matches!(
            j.progress(Kind::CreateCustomer, "done").await.unwrap(),
            Some(Progress::Done)
        ));
        assert_eq!(
            j.unfinished_counts().await.unwrap(),
            [(Kind::CreateCustomer, 1), (Kind::AcceptInvitation, 0)]
        );
        let page = Page::parse(0, "", "workflows", &[""]).unwrap();
        let listed = j.unfinished(None, &page).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, "running");
        assert!(
            j.unfinished(Some(Kind::AcceptInvitation), &page)
                .await
                .unwrap()
                .is_empty()
        );
        scratch.drop_database().await;
    }
}
