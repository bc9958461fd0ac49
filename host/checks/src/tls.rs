//! TLS for `https` checks, over rustls.
//!
//! As keepalived's SSL_GET, certificates are not verified by default: back
//! ends are addressed by IP and often carry certificates for public names.
//! With `verify`, the chain must lead to a CA from the given file and the
//! certificate must be valid for the SNI name (or, without one, the
//! address). The SNI name is sent only when given (`sni=`, else `host=`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// TLS settings of one check, with its client configuration built once.
#[derive(Debug, Clone)]
pub struct TlsProbe {
    sni: Option<String>,
    verify: bool,
    config: Arc<ClientConfig>,
}

impl PartialEq for TlsProbe {
    fn eq(&self, other: &Self) -> bool {
        self.sni == other.sni && self.verify == other.verify
    }
}

impl TlsProbe {
    /// Builds the client configuration; with `verify`, trusts the CAs in
    /// `ca` (PEM).
    pub fn new(sni: Option<String>, verify: bool, ca: Option<&Path>) -> Result<Self, String> {
        let provider = Arc::new(ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))?;
        let config = if verify {
            let ca = ca.ok_or("verifying a certificate needs a CA file (`ca=`)")?;
            let mut roots = RootCertStore::empty();
            let certs =
                CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("{}: no certificate", ca.display()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        };
        Ok(Self {
            sni,
            verify,
            config: Arc::new(config),
        })
    }

    /// The TLS handshake over `tcp` to `ip`.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        ip: IpAddr,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = match &self.sni {
            Some(n) => ServerName::try_from(n.clone()).map_err(|e| format!("sni {n}: {e}"))?,
            None => ServerName::IpAddress(ip.into()),
        };
        TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("tls: {e}"))
    }
}

/// Accepts any certificate (keepalived's SSL_GET default), while still
/// checking the handshake's signatures with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
