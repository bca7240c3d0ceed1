//! Trials that ended: the lazy sweep that stores them EXPIRED, with their events.

use super::Subscriptions;
use crate::domain::EventType;
use crate::error::Result;
use crate::store::{self, Removed};

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
        let mut ended = 0;
        for id in store::trials_past_end(&mut tx, now).await? {
            if let Some(row) = store::end_trial(&mut tx, &id, now).await? {
                store::append_event(
                    &mut tx,
                    EventType::TrialEnded,
                    &row,
                    &Removed::default(),
                    now,
                )
                .await?;
                ended += 1;
            }
        }
        tx.commit().await?;
        if ended > 0 {
            self.events_committed();
        }
        Ok(())
    }
}
