//! TLS for every server and every channel between them, with rustls. Plaintext stays the
//! default (loopback in `partnerhub dev`, a service mesh or NetworkPolicy in a cluster).
//!
//! A server serves TLS from a certificate chain and a key in PEM files and checks the files on
//! an interval: when either changed, it reads both again and new connections get the new
//! certificate (connections already open keep theirs). A pair that doesn't read or doesn't
//! match is logged and the last good one stays, so a half-written renewal breaks nothing.
//! Why poll rather than watch the files: a Kubernetes Secret volume changes by swapping a
//! symlink, which file watchers see unreliably; reading two mtimes every few seconds costs
//! nothing. Nothing of this is on the per-call path: the certificate is picked once per
//! connection.
//!
//! A channel verifies its server with a CA file (and the name in the URL, or the one given).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_stream::wrappers::ReceiverStream;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a server's certificate chain and key are (PEM).
#[derive(Debug, Clone)]
pub struct ServerTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("can't read the TLS certificate {path}: {message}")]
    Cert { path: String, message: String },
    #[error("can't read the TLS key {path}: {message}")]
    Key { path: String, message: String },
    #[error("can't read the TLS CA certificate {path}: {message}")]
    Ca { path: String, message: String },
}

/// A server's TLS: the current certificate, reloaded from its files.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls(..)")
    }
}

#[derive(Debug)]
struct Reloading {
    files: ServerTlsFiles,
    current: RwLock<Loaded>,
}

#[derive(Debug, Clone)]
struct Loaded {
    stamps: [Option<SystemTime>; 2],
    key: Arc<CertifiedKey>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|loaded| loaded.key.clone())
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load(files: &ServerTlsFiles) -> Result<Loaded, TlsError> {
    let stamps = [modified(&files.cert), modified(&files.key)];
    let cert_error = |message: String| TlsError::Cert {
        path: files.cert.display().to_string(),
        message,
    };
    let key_error = |message: String| TlsError::Key {
        path: files.key.display().to_string(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no certificate in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| key_error(e.to_string()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| key_error(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| key_error(format!("does not match the certificate: {e}")))?;
    Ok(Loaded {
        stamps,
        key: Arc::new(certified),
    })
}

impl ServerTls {
    /// Reads the files (an error names the one at fault) and, in a task, reads them again
    /// every `reload_every` when they changed. Must be called inside the Tokio runtime; the task
    /// ends when the last clone of this is dropped.
    pub fn load(files: ServerTlsFiles, reload_every: Duration) -> Result<Self, TlsError> {
        let loaded = load(&files)?;
        let resolver = Arc::new(Reloading {
            files,
            current: RwLock::new(loaded),
        });
        tokio::spawn(reload(Arc::downgrade(&resolver), reload_every));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Cert {
            path: String::new(),
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
        // gRPC is HTTP/2 only.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The TLS connections made on `listener` (TCP_NODELAY set), each handshake in a task of
    /// its own so a slow client holds up no other; ends when the stream is dropped.
    pub fn incoming(
        &self,
        listener: TcpListener,
    ) -> ReceiverStream<Result<tokio_rustls::server::TlsStream<TcpStream>, std::io::Error>> {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = sender.closed() => return,
                    accepted = listener.accept() => accepted,
                };
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a moment and go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send(Ok(tls)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        });
        ReceiverStream::new(receiver)
    }
}

async fn reload(resolver: Weak<Reloading>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(resolver) = resolver.upgrade() else {
            return;
        };
        let files = &resolver.files;
        let stamps = [modified(&files.cert), modified(&files.key)];
        let known = resolver
            .current
            .read()
            .map(|l| l.stamps)
            .unwrap_or_default();
        if stamps == known {
            continue;
        }
        match load(files) {
            Ok(loaded) => {
                if let Ok(mut current) = resolver.current.write() {
                    *current = loaded;
                }
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                // Keep the last good pair, and try again at the next change.
                if let Ok(mut current) = resolver.current.write() {
                    current.stamps = stamps;
                }
                tracing::warn!(error = %e, "TLS certificate not reloaded; the previous one stays");
            }
        }
    }
}

/// How a channel verifies the server it calls: the CA certificate(s) in a PEM file, and the
/// name to check (`None`: the URL's host).
#[derive(Debug, Clone)]
pub struct ClientTls {
    ca: tonic::transport::Certificate,
    server_name: Option<String>,
}

impl ClientTls {
    pub fn load(ca: &Path, server_name: Option<String>) -> Result<Self, TlsError> {
        let pem = std::fs::read(ca).map_err(|e| TlsError::Ca {
            path: ca.display().to_string(),
            message: e.to_string(),
        })?;
        if CertificateDer::pem_slice_iter(&pem).next().is_none() {
            return Err(TlsError::Ca {
                path: ca.display().to_string(),
                message: "no certificate in it".into(),
            });
        }
        Ok(ClientTls {
            ca: tonic::transport::Certificate::from_pem(pem),
            server_name,
        })
    }

    /// tonic's settings for a channel that verifies its server this way.
    pub fn config(&self) -> tonic::transport::ClientTlsConfig {
        let config = tonic::transport::ClientTlsConfig::new().ca_certificate(self.ca.clone());
        match &self.server_name {
            Some(name) => config.domain_name(name.clone()),
            None => config,
        }
    }

    /// [`ClientTls::config`] for a replica dialled by its address but known as `host` (the
    /// URL's host name): without a name of its own, it checks the certificate against `host`.
    pub fn config_for(&self, host: &str) -> tonic::transport::ClientTlsConfig {
        let name = self.server_name.as_deref().unwrap_or(host);
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .domain_name(name.to_string())
    }
}
