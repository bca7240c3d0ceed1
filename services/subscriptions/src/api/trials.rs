//! Trials: those that ended (stored EXPIRED by the sweep, with their events), and trials
//! converted to paid subscriptions.

use super::{Subscriptions, record_event};
use crate::domain::{Conversion, EventType, Removed};
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_kit::store::fingerprint;
use partnerhub_proto::subscriptions as pb;
use sqlx::AnyConnection;

use super::subscriptions::ChangeRequest;

/// The `request_ids` method name of `ConvertTrial`.
const CONVERT_TRIAL: &str = "ConvertTrial";

impl Subscriptions {
    /// Turns a running trial into a paid, active subscription of its offer, on the term asked
    /// for, with one TRIAL_ENDED event (as a trial that runs out or whose offer is bought).
    /// Same id: the customer keeps what it set up during the trial.
    pub(super) async fn convert_trial(
        &self,
        req: pb::ConvertTrialRequest,
    ) -> Result<pb::Subscription> {
        let mut v = Violations::new();
        let change = ChangeRequest::parse(
            &mut v,
            &req.tenant_id,
            ("subscription_id", &req.subscription_id),
            ("etag", &req.etag),
        );
        let conversion = v.take(Conversion::parse(&req));
        let request_id = v.take(fields::request_id(&req.request_id)).flatten();
        let (change, conversion) = v.done(change.zip(conversion))?;
        let fingerprint = fingerprint(&pb::ConvertTrialRequest {
            request_id: String::new(),
            ..req
        });
        if let Some(id) = self.seen(CONVERT_TRIAL, request_id, &fingerprint).await? {
            return self.current(&id).await;
        }
        self.sweep().await?;
        let row = self.changeable(&change).await?;
        let offer = self.offer_of(&row).await?;
        let now = self.now();
        let next = conversion.apply(&row, &offer, now)?;
        self.write_change_once(
            CONVERT_TRIAL,
            (request_id, &fingerprint),
            &row,
            &next,
            EventType::TrialEnded,
            now,
        )
        .await?
        .ok_or(Error::Contended)
    }
}

/// Ends the trials `ids` that are still stored as trials, each with a TRIAL_ENDED event (under
/// the event writers' row the caller took); how many it ended.
pub(super) async fn end_trials(
    conn: &mut AnyConnection,
    ids: &[String],
    now: i64,
) -> Result<usize> {
    let mut ended = 0;
    for id in ids {
        if let Some(expired) = store::end_trial(conn, id, now).await? {
            record_event(
                conn,
                EventType::TrialEnded,
                &expired,
                &Removed::default(),
                now,
            )
            .await?;
            ended += 1;
        }
    }
    Ok(ended)
}
