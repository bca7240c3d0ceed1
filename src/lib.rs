//! `partnerhub`: the whole system in one process (`partnerhub dev`) or one server at a time
//! (`partnerhub serve …`). The tests start the system through [`system::start`], exactly as
//! `partnerhub dev` does.

pub mod replicas;
pub mod system;
