//! TLS from PEM files, with rustls.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion_postgres::pgwire::tokio::TlsAcceptor;
use datafusion_postgres::pgwire::tokio::tokio_rustls::rustls::ServerConfig;
use datafusion_postgres::pgwire::tokio::tokio_rustls::rustls::crypto::ring;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsFiles;

/// The acceptor for `files`; an error names the file and what is wrong with it.
pub(super) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor> {
    let cert_name = files.cert.display();
    let key_name = files.key.display();
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
        .map_err(|e| {
            DataFusionError::Configuration(format!("cannot read TLS certificate '{cert_name}': {e}"))
        })?;
    if chain.is_empty() {
        return Err(DataFusionError::Configuration(format!(
            "TLS certificate '{cert_name}' holds no PEM certificate"
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        DataFusionError::Configuration(format!("cannot read TLS private key '{key_name}': {e}"))
    })?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| {
            DataFusionError::Configuration(format!("TLS certificate '{cert_name}' and key '{key_name}': {e}"))
        })?;
    // PostgreSQL 17's direct TLS connections ask for this protocol name.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
