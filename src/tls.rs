//! TLS for every client of ours (ECR, GitHub, the gates' HTTP): the system's root certificates,
//! read once per process and never for plain-HTTP endpoints. Reading them costs more CPU than the
//! rest of the start-up together, so the first HTTPS client starts it on a thread of its own, and
//! a handshake waits for it only when the server's certificate arrives, a round trip or two later.

use std::sync::{Arc, Once, OnceLock};

use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// The client configuration that verifies servers against the system's roots. Cheap: the roots
/// are read in the background from the first call on.
pub fn verified() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            preload();
            Arc::new(
                ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Verifier::new(Trust::SystemRoots)))
                    .with_no_client_auth(),
            )
        })
        .clone()
}

/// Start reading the system's roots on a thread of its own, once. Should the thread not start,
/// the first handshake reads them itself.
fn preload() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("tls-roots".into())
            .spawn(|| {
                let _ = system_roots();
            });
    });
}

/// The verifier of the system's roots, read on first use (waiting for the thread reading them).
fn system_roots() -> &'static Result<Arc<WebPkiServerVerifier>, String> {
    static ROOTS: OnceLock<Result<Arc<WebPkiServerVerifier>, String>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(format!(
                "no CA certificates found on this system{}",
                found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            ));
        }
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| e.to_string())
    })
}

/// Whose certificates a connection accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// Those the system's roots vouch for, read only once the server's certificate is there:
    /// the ClientHello goes out while they are still being read.
    SystemRoots,
    /// Any (`argocd-insecure: true`); the handshake's signatures are still checked.
    Any,
}

#[derive(Debug)]
struct Verifier {
    trust: Trust,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl Verifier {
    fn new(trust: Trust) -> Verifier {
        Verifier {
            trust,
            provider: provider(),
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.trust == Trust::Any {
            return Ok(ServerCertVerified::assertion());
        }
        match system_roots() {
            Ok(verifier) => verifier.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            Err(e) => Err(rustls::Error::General(e.clone())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A configuration for plain-HTTP endpoints, where no handshake happens: no roots loaded.
pub fn plain() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            )
        })
        .clone()
}

/// A client configuration that accepts any certificate (`argocd-insecure: true`), still
/// checking the handshake's signatures.
pub fn insecure() -> Result<Arc<ClientConfig>, String> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier::new(Trust::Any)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}
