//! TLS for `rediss://` (feature `tls`): rustls with the Mozilla roots, or the CA file given in
//! the connection settings.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::config::ConnectionInfo;
use redpipe_core::{Error, Result};

fn tls(e: impl std::fmt::Display) -> Error {
    Error::Tls(e.to_string())
}

/// The client configuration for `info`: its CA file, or the public roots.
pub(crate) fn config(info: &ConnectionInfo) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match &info.tls_ca {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(tls)? {
                roots.add(cert.map_err(tls)?).map_err(tls)?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_string()).map_err(tls)
}

/// The client side of a TLS session with `host`.
pub(crate) fn client(host: &str, info: &ConnectionInfo) -> Result<rustls::ClientConnection> {
    rustls::ClientConnection::new(config(info)?, server_name(host)?).map_err(tls)
}
