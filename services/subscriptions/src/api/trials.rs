//! Trials that ended: the lazy sweep that stores them EXPIRED, with their events.

use super::{Subscriptions, record_event};
use crate::domain::{EventType, Removed};
use crate::error::Result;
use crate::store;
use sqlx::AnyConnection;

impl Subscriptions {
    /// Ends the trials past their end that are still stored as trials: each becomes EXPIRED
    /// with one TRIAL_ENDED event, once (the state condition and the event writers' row make
    /// concurrent sweeps harmless). Runs before reads and watch pages; cheap when there is
    /// nothing to do.
    pub(super) async fn sweep_trials(&self) -> Result<()> {
        let now = self.now();
        if !store::any_trial_past_end(&mut *self.conn().await?, now).await? {
            return Ok(());
        }
        let mut tx = self.db.pool.begin().await?;
        store::lock_events(&mut tx).await?;
        let past_end = store::trials_past_end(&mut tx, now).await?;
        let ended = end_trials(&mut tx, &past_end, now).await?;
        tx.commit().await?;
        if ended > 0 {
            self.events_committed();
        }
        Ok(())
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
