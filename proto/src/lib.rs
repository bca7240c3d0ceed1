//! The partnerhub contract as Rust types: one module per protobuf package, plus the encoded
//! descriptor sets that reflection serves.

/// Every file of the contract, public and internal, as an encoded `FileDescriptorSet`.
pub const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The public files only (no `internal.proto`): what the gateway shows through reflection.
pub const PUBLIC_DESCRIPTORS: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/public_descriptors.bin"));

pub mod codec;

/// The generated code, nested as the protobuf packages are (generated paths rely on it).
pub mod partnerhub {
    pub mod r#type {
        pub mod v1 {
            // `type` is a Rust keyword, so prost names the file with a raw identifier.
            include!(concat!(env!("OUT_DIR"), "/partnerhub.r#type.v1.rs"));
        }
    }
    pub mod tenants {
        pub mod v1 {
            tonic::include_proto!("partnerhub.tenants.v1");
        }
    }
    pub mod subscriptions {
        pub mod v1 {
            tonic::include_proto!("partnerhub.subscriptions.v1");
        }
    }
    pub mod relationships {
        pub mod v1 {
            tonic::include_proto!("partnerhub.relationships.v1");
        }
    }
    pub mod invitations {
        pub mod v1 {
            tonic::include_proto!("partnerhub.invitations.v1");
        }
    }
    pub mod gateway {
        pub mod v1 {
            tonic::include_proto!("partnerhub.gateway.v1");
        }
    }
    pub mod support {
        pub mod v1 {
            tonic::include_proto!("partnerhub.support.v1");
        }
    }
}

/// `partnerhub.gateway.v1`.
pub use partnerhub::gateway::v1 as gateway;
/// `partnerhub.invitations.v1`.
pub use partnerhub::invitations::v1 as invitations;
/// `partnerhub.relationships.v1`.
pub use partnerhub::relationships::v1 as relationships;
/// `partnerhub.subscriptions.v1`.
pub use partnerhub::subscriptions::v1 as subscriptions;
/// `partnerhub.support.v1`.
pub use partnerhub::support::v1 as support;
/// `partnerhub.tenants.v1`.
pub use partnerhub::tenants::v1 as tenants;
/// `partnerhub.type.v1`: types shared by every service.
pub use partnerhub::r#type::v1 as types;
