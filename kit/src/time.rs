//! Time as the stores keep it: whole microseconds since the Unix epoch, in a BIGINT column.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time services go by for expiries (delegated admin end times, invitation expiry, trials).
/// In production it is the system clock; tests move it forward instead of waiting days.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// Now, in microseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        now_micros().saturating_add(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_micros.fetch_add(micros(by), Ordering::Relaxed);
    }
}

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// A stored time as a protobuf `Timestamp`.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// An optional stored time (NULL or 0 is "not set") as an optional `Timestamp`.
pub fn optional_timestamp(micros: Option<i64>) -> Option<prost_types::Timestamp> {
    micros.filter(|m| *m != 0).map(timestamp)
}

/// A `Duration` in microseconds, saturating.
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_clone() {
        let clock = Clock::default();
        let other = clock.clone();
        let before = other.now();
        clock.advance(Duration::from_secs(86_400));
        assert!(other.now() - before >= 86_400_000_000);
    }

    #[test]
    fn timestamps_keep_microseconds_and_negative_times() {
        assert_eq!(
            timestamp(1_500_000),
            prost_types::Timestamp {
                seconds: 1,
                nanos: 500_000_000
            }
        );
        assert_eq!(
            timestamp(-1),
            prost_types::Timestamp {
                seconds: -1,
                nanos: 999_999_000
            }
        );
        assert_eq!(optional_timestamp(Some(0)), None);
    }
}
