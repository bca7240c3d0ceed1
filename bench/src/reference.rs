//! The reference servers, run in a process of their own (`partnerhub-bench __reference`): a bare
//! tonic server that answers `GetTenant` from memory (the "echo": what a gRPC call costs with
//! no work behind it), and a one-hop proxy in front of it that passes calls on as bytes (what
//! one hop through a gateway costs with no work in the gateway). Both set TCP_NODELAY on the
//! connections they accept, as the partnerhub servers do.

use partnerhub_proto::tenants as pb;
use partnerhub_proto::tenants::tenant_service_server::{TenantService, TenantServiceServer};
use partnerhub_proto::types;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::body::Body;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tower::{Service, ServiceExt};

/// Answers `GetTenant` with a tenant of the same shape as the system's, from memory.
struct Echo;

#[tonic::async_trait]
impl TenantService for Echo {
    async fn get_tenant(
        &self,
        request: tonic::Request<pb::GetTenantRequest>,
    ) -> Result<tonic::Response<pb::GetTenantResponse>, tonic::Status> {
        Ok(tonic::Response::new(pb::GetTenantResponse {
            tenant: Some(tenant(request.into_inner().tenant_id)),
        }))
    }
}

fn tenant(id: String) -> pb::Tenant {
    pb::Tenant {
        id,
        display_name: "Reference AB".into(),
        cloud: types::Cloud::Worldwide as i32,
        country_code: "SE".into(),
        domain_prefix: "reference".into(),
        address: Some(types::PostalAddress {
            address_lines: vec!["Drottninggatan 1".into()],
            locality: "Stockholm".into(),
            administrative_area: String::new(),
            postal_code: "111 51".into(),
        }),
        contact: Some(types::Contact {
            first_name: "Ann".into(),
            last_name: "Berg".into(),
            email: "ann@example.com".into(),
            phone: String::new(),
        }),
        ..Default::default()
    }
}

/// Passes every call on to a channel, unchanged.
#[derive(Clone)]
struct Proxy(Channel);

impl Service<http::Request<Body>> for Proxy {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let channel = self.0.clone();
        Box::pin(async move {
            Ok(channel
                .oneshot(request)
                .await
                .unwrap_or_else(|e| tonic::Status::unavailable(e.to_string()).into_http()))
        })
    }
}

/// A loopback listener, its connections with TCP_NODELAY as the partnerhub servers' are.
async fn listen() -> std::io::Result<(std::net::SocketAddr, TcpIncoming)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, partnerhub_kit::server::incoming(listener)))
}

/// Serves both until standard input closes (the bench ended); prints `echo=ADDR proxy=ADDR`.
pub async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let (echo_addr, echo_incoming) = listen().await?;
    let (proxy_addr, proxy_incoming) = listen().await?;
    let echo = Server::builder()
        .add_service(TenantServiceServer::new(Echo))
        .serve_with_incoming(echo_incoming);
    let echo = tokio::spawn(echo);
    let to_echo = crate::load::connect(echo_addr).await?;
    let proxy = Server::builder().serve_with_incoming(Proxy(to_echo), proxy_incoming);
    let proxy = tokio::spawn(proxy);
    println!("echo={echo_addr} proxy={proxy_addr}");
    // Ends with the bench: its end of our standard input closes.
    tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink()))
        .await??;
    echo.abort();
    proxy.abort();
    Ok(())
}
