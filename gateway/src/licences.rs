//! A user deleted in tenants loses its licences. After every `DeleteUser` it forwards, the
//! gateway asks the subscriptions service to release the licences of that user
//! (`SubscriptionInternalService/ReleaseDeletedUserLicenses`). The forwarded call and the
//! release run in a task of their own, so both finish whether or not the caller waits for
//! them, the release retried while the subscriptions service can't be reached.
//!
//! Why not a journalled workflow (`workflows/journal.rs`): the release is not a step that
//! could be left half done, but a consequence of the tenants service's state. The
//! subscriptions service asks the tenants service whether the user still exists and releases
//! nothing while it does, so the release is idempotent and correct at any time: after a
//! refused `DeleteUser` it changes nothing, and a repeated `DeleteUser` (answered NOT_FOUND)
//! releases again whatever an earlier one left. What a journal would add is surviving a
//! gateway stopping in the seconds between the two; then the licences stay until the user's
//! deletion is repeated (README, "Known limits").

use partnerhub_kit::telemetry::{Peer, current_request_id, within_call};
use partnerhub_proto::subscriptions::ReleaseDeletedUserLicensesRequest;
use partnerhub_proto::subscriptions::subscription_internal_service_client::SubscriptionInternalServiceClient;
use prost_reflect::DynamicMessage;
use std::future::Future;
use std::time::Duration;
use tonic::Code;

/// The method after which licences are released.
pub const DELETE_USER: &str = "/partnerhub.tenants.v1.TenantService/DeleteUser";

/// How often the release is tried, and the first wait between tries (doubling).
const ATTEMPTS: u32 = 6;
const FIRST_WAIT: Duration = Duration::from_millis(200);

/// The release a `DeleteUser` call asks for: its tenant and user.
#[derive(Debug, Clone)]
pub struct Release {
    tenant_id: String,
    user_id: String,
}

impl Release {
    /// The release after a call of `path`, if it is `DeleteUser`.
    pub fn after(path: &str, message: &DynamicMessage) -> Option<Release> {
        (path == DELETE_USER).then(|| Release {
            tenant_id: crate::policy::field_text(message, "tenant_id"),
            user_id: crate::policy::field_text(message, "user_id"),
        })
    }

    /// Runs `forward` (the `DeleteUser` call) and then the release, in a task of their own
    /// (the call that asked may be gone). The caller gets the forwarded answer after the
    /// release's first try, so that when `DeleteUser` answers the licences are normally free
    /// already; further tries (the subscriptions service unreachable) don't hold it up.
    /// `None` only if the task failed.
    pub async fn around<T: Send + 'static>(
        self,
        forward: impl Future<Output = T> + Send + 'static,
        subscriptions: Peer,
    ) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        // Still the caller's call in the logs and traces of every hop (its request id), but
        // with no deadline: the release goes on when the caller stops waiting.
        let call_id = current_request_id().unwrap_or_default();
        tokio::spawn(within_call(call_id, None, async move {
            let forwarded = forward.await;
            let mut client = SubscriptionInternalServiceClient::new(subscriptions);
            let released = self.try_release(&mut client).await;
            // The caller may have gone: the release goes on all the same.
            let _ = answer.send(forwarded);
            if !released {
                self.retry(&mut client).await;
            }
        }));
        answered.await.ok()
    }

    /// Tries the release again, waiting longer each time.
    async fn retry(&self, client: &mut Client) {
        let mut wait = FIRST_WAIT;
        for _ in 1..ATTEMPTS {
            tokio::time::sleep(wait).await;
            if self.try_release(client).await {
                return;
            }
            wait = wait.saturating_mul(2);
        }
        tracing::error!(
            user_id = %self.user_id,
            "a deleted user's licences not released; repeating its DeleteUser releases them"
        );
    }

    /// One try: whether it is done (or can't ever be: malformed ids, which `DeleteUser`
    /// refused too).
    async fn try_release(&self, client: &mut Client) -> bool {
        let request = ReleaseDeletedUserLicensesRequest {
            tenant_id: self.tenant_id.clone(),
            user_id: self.user_id.clone(),
        };
        match client.release_deleted_user_licenses(request).await {
            Ok(_) => true,
            Err(status) if status.code() == Code::InvalidArgument => true,
            Err(status) => {
                tracing::warn!(
                    user_id = %self.user_id,
                    error = %status.message(),
                    "a deleted user's licences not released yet"
                );
                false
            }
        }
    }
}

type Client = SubscriptionInternalServiceClient<Peer>;
