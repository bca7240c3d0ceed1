//! The test harness: starts the system and hands out clients.
