//! `WatchSubscriptionEvents`: one task per stream, reading the events table after its cursor.

use super::{Subscriptions, WatchItem};
use crate::domain;
use crate::error::{Error, Result};
use crate::store;
use partnerhub_kit::fields;
use partnerhub_kit::status::Violations;
use partnerhub_proto::subscriptions as pb;
use partnerhub_proto::tenants::tenant;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

/// Events a watcher reads from the table at once.
const WATCH_PAGE: i64 = 256;
/// Events waiting for a watcher's client to take them; a client that doesn't read holds up its
/// own stream's task here and nothing else.
pub(super) const WATCH_BUFFER: usize = 16;
/// How often a waiting watcher looks for events even without a wake-up (and for trials that
/// ended meanwhile).
pub const WATCH_POLL: Duration = Duration::from_secs(1);

/// Who a watch stream is for: the partner's tenant id and partner ID.
#[derive(Debug, Clone)]
pub(super) struct Watcher {
    pub(super) tenant_id: String,
    pub(super) mpn_id: String,
}

impl Subscriptions {
    /// Checks a `WatchSubscriptionEvents` and starts its stream's task: the partner (its
    /// partner ID read once, here) and where to start, fixed before the answer so that every
    /// event committed after the call returns is delivered.
    pub(super) async fn watch(
        &self,
        req: &pb::WatchSubscriptionEventsRequest,
    ) -> Result<ReceiverStream<WatchItem>> {
        let mut v = Violations::new();
        let partner = v.take(fields::id("partner_tenant_id", &req.partner_tenant_id));
        let cursor = v.take(domain::decode_cursor("cursor", &req.cursor));
        let (partner, cursor) = v.done(partner.zip(cursor))?;
        let partner = partner.to_string();
        let tenant = self.tenant(&partner).await?;
        if tenant.kind != tenant::Kind::Partner as i32 {
            return Err(Error::NotAPartner(partner));
        }
        let watcher = Watcher {
            tenant_id: partner,
            mpn_id: tenant.partner.map(|p| p.mpn_id).unwrap_or_default(),
        };
        // Subscribe before reading the last cursor: a commit in between wakes the task.
        let wake = self.events.subscribe();
        let last = store::last_cursor(&mut *self.conn().await?).await?;
        let after = match cursor {
            None => last,
            Some(c) if c > last => {
                return Err(Error::field(
                    "cursor",
                    "is ahead of every event; send an event's `cursor` as received",
                ));
            }
            Some(c) => c,
        };
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        // In the call's span: the stream's log lines carry its request id.
        tokio::spawn(
            self.clone()
                .run_watch(watcher, after, wake, tx)
                .instrument(tracing::Span::current()),
        );
        Ok(ReceiverStream::new(rx))
    }

    /// One stream's task: reads the events after `after` page by page, sends those that concern
    /// the watcher, then waits for a wake-up (or the poll); ends when the client goes away or
    /// the server shuts down. A failure ends the stream with its status; the client resumes with
    /// its last cursor.
    pub(super) async fn run_watch(
        self,
        watcher: Watcher,
        mut after: i64,
        mut wake: watch::Receiver<u64>,
        tx: mpsc::Sender<WatchItem>,
    ) {
        // A stream ended by the server stopping says so (UNAVAILABLE, SERVER_STOPPING), so the
        // client resumes from its last cursor rather than take the end for "done".
        let stopping = |tx: &mpsc::Sender<WatchItem>| {
            let _ = tx.try_send(Err(partnerhub_kit::server::stopping_status(
                "subscriptions",
            )));
        };
        loop {
            wake.borrow_and_update();
            match self.watch_pages(&watcher, &mut after, &tx).await {
                Ok(true) => {}
                Ok(false) => {
                    if self.shutdown.is_cancelled() {
                        stopping(&tx);
                    }
                    return;
                }
                Err(e) => {
                    tokio::select! {
                        _ = tx.send(Err(e.into())) => {}
                        _ = self.shutdown.cancelled() => {}
                    }
                    return;
                }
            }
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep(WATCH_POLL) => {}
                _ = tx.closed() => return,
                _ = self.shutdown.cancelled() => {
                    stopping(&tx);
                    return;
                }
            }
        }
    }

    /// Sends every event after `after` that concerns the watcher, moving `after` past each event
    /// read. `false`: the stream is over (client gone, or shutting down).
    async fn watch_pages(
        &self,
        watcher: &Watcher,
        after: &mut i64,
        tx: &mpsc::Sender<WatchItem>,
    ) -> Result<bool> {
        self.sweep().await?;
        loop {
            // The connection goes back to the pool before sending: a slow client holds none.
            let page = store::events_after(&mut *self.conn().await?, *after, WATCH_PAGE).await?;
            let full = page.len() as i64 == WATCH_PAGE;
            for event in page {
                let cursor = event.cursor;
                if event.concerns(&watcher.tenant_id, &watcher.mpn_id) {
                    let event = event.to_proto().map_err(|e| {
                        Error::inconsistent(format!(
                            "event {cursor} of {} does not decode: {e}",
                            event.subscription_id
                        ))
                    })?;
                    let item = Ok(pb::WatchSubscriptionEventsResponse { event: Some(event) });
                    tokio::select! {
                        sent = tx.send(item) => {
                            if sent.is_err() {
                                return Ok(false);
                            }
                        }
                        _ = self.shutdown.cancelled() => return Ok(false),
                    }
                }
                *after = cursor;
            }
            if !full {
                return Ok(true);
            }
        }
    }
}
