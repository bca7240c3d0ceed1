//! The server kit: what every partnerhub server repeats, in one place.
//!
//! A service crate is then its API handlers, its domain rules and its store:
//! - [`server`]: bind, reflection (v1 and v1alpha), health, tracing, limits, graceful shutdown;
//! - [`health`]: readiness that follows what a server needs (its database, the services behind
//!   it), liveness that doesn't;
//! - [`status`]: one conversion from a service's error enum to `tonic::Status` with
//!   `ErrorInfo`, `BadRequest` and `RetryInfo` details;
//! - [`store`]: one database approach for every service (SQLite or PostgreSQL through sqlx's
//!   `Any` driver, embedded migrations, request-id idempotency);
//! - [`row`]: reading a row's columns as the stores keep them (enum names, lists, flags, times);
//! - [`metrics`] and [`telemetry`]: Prometheus metrics, request ids and trace context across
//!   servers, OTLP export;
//! - [`page`]: keyset pagination with opaque, checked page tokens;
//! - [`peers`]: one typed client per service other servers ask, mapping its answers once;
//! - [`secret_key`]: a service's key, from which it derives the secrets it hands out;
//! - [`private_file`]: the data folder, databases and key files, readable by their owner only;
//! - [`internal_call`]: the assertion every call to a service carries to prove it comes from
//!   the gateway or a peer, and the layer that checks it;
//! - [`tls`]: TLS for servers (certificates reloaded when their files change) and channels.
//!
//! Domain facts several services share (countries, clouds, grants) are rules, not
//! infrastructure: they live in `partnerhub-rules`.

pub mod caller;
pub mod fields;
pub mod health;
pub mod internal_call;
pub mod metrics;
pub mod page;
pub mod peers;
pub mod private_file;
pub mod row;
pub mod secret_key;
pub mod server;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tls;
pub mod uri;
