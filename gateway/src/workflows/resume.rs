//! Every gateway takes up the unfinished workflows of the database it shares with the other
//! replicas: one whose caller gave up, or whose gateway or a service behind it stopped, is run
//! again with the same request and principal, so each step (idempotent by an id derived from
//! the workflow's) is done once, until the workflow is done or fails. A claimed workflow is
//! leased to one gateway (`journal::Journal::claim`); the attempts back off, and a workflow that
//! still can't be finished after `give_up_after` is given up and undone.

use super::Workflows;
use super::journal::{Kind, Record, error_text};
use crate::error::Error;
use partnerhub_kit::metrics::Gauge;
use partnerhub_kit::telemetry::within_call;
use partnerhub_kit::time::{micros, now_micros};
use partnerhub_proto::gateway as gw;
use prost::Message;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tonic::{Code, Status};

/// When unfinished workflows are taken up again.
#[derive(Debug, Clone, Copy)]
pub struct Resumption {
    /// How long after its submission (or after its caller's call stopped) an unfinished
    /// workflow waits before a gateway takes it up: longer than a call may last, so that a
    /// workflow still running for its caller is not run beside it (harmless, as every step is
    /// idempotent, but wasted). Also the first wait between attempts.
    pub after: Duration,
    /// How long one resumed attempt may take: the lease it holds on the workflow. A gateway
    /// that stops in the middle of an attempt keeps the others off it this long.
    pub lease: Duration,
    /// The longest wait between two attempts (the wait doubles from `after`).
    pub max_backoff: Duration,
    /// How long after its submission a workflow that still can't be finished is given up:
    /// failed, and what it had made undone (a pending customer released).
    pub give_up_after: Duration,
}

impl Default for Resumption {
    fn default() -> Self {
        Resumption {
            after: Duration::from_secs(60),
            lease: Duration::from_secs(60),
            max_backoff: Duration::from_secs(15 * 60),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl Resumption {
    /// How often a gateway looks for workflows to take up (and counts the unfinished ones).
    fn poll(&self) -> Duration {
        (self.after / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
    }

    /// The wait after the `attempts`th attempt: `after`, doubling, at most `max_backoff`.
    fn backoff(&self, attempts: i64) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        self.after
            .saturating_mul(1 << doublings)
            .min(self.max_backoff.max(self.after))
    }
}

/// Attempts one gateway runs at once.
const AT_ONCE: usize = 8;

/// The `partnerhub_workflows_unfinished{workflow}` gauge's definition.
pub const UNFINISHED_GAUGE: (&str, &str) = (
    "partnerhub_workflows_unfinished",
    "Workflows submitted and not finished yet, by workflow (counted in the database every \
     gateway shares: each gateway shows the same number).",
);

/// Takes up unfinished workflows, and keeps `gauge` counting them, until dropped.
pub async fn resume(workflows: Workflows, gauge: Gauge) -> Infallible {
    let mut tick = tokio::time::interval(workflows.resumption.poll());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Dropped with this future (the gateway stopping): the attempts under way stop with it,
    // and their leases run out for another gateway.
    let mut attempts = JoinSet::new();
    loop {
        tick.tick().await;
        while attempts.try_join_next().is_some() {}
        workflows.count_unfinished(&gauge).await;
        let room = AT_ONCE.saturating_sub(attempts.len());
        if room == 0 {
            continue;
        }
        let lease_until = now_micros().saturating_add(micros(workflows.resumption.lease));
        let claimed = workflows
            .journal
            .claim(i64::try_from(room).unwrap_or(1), lease_until)
            .await;
        match claimed {
            Ok(records) => {
                for record in records {
                    let w = workflows.clone();
                    attempts.spawn(async move { w.attempt(record).await });
                }
            }
            Err(e) => tracing::warn!(error = %e, "can't look for unfinished workflows"),
        }
    }
}

impl Workflows {
    async fn count_unfinished(&self, gauge: &Gauge) {
        match self.journal.unfinished_counts().await {
            Ok(counts) => {
                for (kind, n) in counts {
                    gauge.set(&[kind.method()], n);
                }
            }
            Err(e) => tracing::warn!(error = %e, "can't count unfinished workflows"),
        }
    }

    /// One attempt at a claimed workflow, within its lease.
    async fn attempt(&self, record: Record) {
        let lease = self.resumption.lease;
        let workflow = record.kind.method();
        tracing::info!(workflow, id = %record.key, attempt = record.attempts, "resuming a workflow");
        // Its calls carry a request id of their own, to find the attempt in every server's log.
        let call_id = format!("resume-{}", uuid::Uuid::new_v4());
        let run = within_call(
            call_id,
            Instant::now().checked_add(lease),
            self.again(&record),
        );
        let error = match tokio::time::timeout(lease, run).await {
            Ok(Ok(())) => {
                tracing::info!(workflow, id = %record.key, "resumed workflow finished");
                return;
            }
            // Refused for good, in its review (which doesn't record it) or in its writes
            // (which did: undoing again changes nothing).
            Ok(Err(status)) if permanent(&status) => {
                self.failed(record.kind, &record.key, &status).await;
                return;
            }
            Ok(Err(status)) => error_text(&status),
            Err(_) => format!("the attempt took longer than its lease ({lease:?})"),
        };
        let now = now_micros();
        if now >= record.give_up_time {
            self.give_up(&record).await;
            return;
        }
        let next = now.saturating_add(micros(self.resumption.backoff(record.attempts)));
        tracing::warn!(workflow, id = %record.key, %error, "resumed workflow stopped again");
        if let Err(e) = self
            .journal
            .stopped(record.kind, &record.key, &error, next)
            .await
        {
            tracing::error!(error = %e, "a workflow's attempt not recorded");
        }
    }

    /// Runs a recorded workflow again, as its caller submitted it.
    async fn again(&self, record: &Record) -> Result<(), Status> {
        let corrupt = |e: prost::DecodeError| {
            Status::internal(format!("the recorded request does not decode: {e}"))
        };
        let request = record.request.as_slice();
        match record.kind {
            Kind::CreateCustomer => {
                let req = gw::CreateCustomerRequest::decode(request).map_err(corrupt)?;
                super::create_customer::run(self, &record.who, req).await?;
            }
            Kind::AcceptInvitation => {
                let req = gw::AcceptInvitationRequest::decode(request).map_err(corrupt)?;
                super::accept_invitation::run(self, &record.who, req).await?;
            }
        }
        Ok(())
    }

    /// A workflow past its time: what it made is undone and it fails, which its retries are
    /// answered from then on.
    async fn give_up(&self, record: &Record) {
        let abandoned: Status = Error::WorkflowAbandoned(self.resumption.give_up_after).into();
        tracing::warn!(workflow = record.kind.method(), id = %record.key, "giving a workflow up");
        self.failed(record.kind, &record.key, &abandoned).await;
    }
}

/// Whether a workflow's error is a refusal that running it again would not change, so that it
/// fails; anything else (a service unreachable, a deadline, a conflict, an internal error) is
/// tried again.
pub fn permanent(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_back_off_doubling_up_to_the_most() {
        let r = Resumption {
            after: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            ..Default::default()
        };
        let waits: Vec<u64> = (1..=6).map(|n| r.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(r.backoff(i64::MAX).as_secs(), 10);
        assert_eq!(r.backoff(0).as_secs(), 1);
    }

    #[test]
    fn only_refusals_fail_a_workflow() {
        for code in [
            Code::FailedPrecondition,
            Code::InvalidArgument,
            Code::NotFound,
        ] {
            assert!(permanent(&Status::new(code, "")), "{code:?}");
        }
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::Internal,
            Code::Unknown,
            Code::Cancelled,
            Code::ResourceExhausted,
            Code::Unauthenticated,
        ] {
            assert!(!permanent(&Status::new(code, "")), "{code:?}");
        }
    }
}
