//! TLS to PostgreSQL with rustls and its `ring` provider (the rustls that reqwest and tonic
//! already bring; no OpenSSL). [`parse`] reads the URL, [`connector`] makes the one connector
//! that all three kinds of connection use: the pool's, the listener's and the lease
//! connection.
//!
//! `sslmode`, as libpq spells it:
//! - `disable`: plain text.
//! - `prefer` (the default): TLS when the server offers it, else plain text. As with libpq the
//!   certificate is **not** verified: this keeps out eavesdroppers, not an attacker in the
//!   middle (who could as well answer that there is no TLS).
//! - `require`: TLS or no connection, and the certificate **is verified in full**, as libpq's
//!   `verify-full` does: signed by a trusted CA, valid now, and naming the URL's host (its
//!   `host`, not `hostaddr`). libpq's `require` checks nothing; rustls always verifies, and so
//!   does wxlink wherever TLS is required. `verify-full` is a synonym.
//! - `verify-ca`: TLS, the certificate signed by a trusted CA and valid now, its names not
//!   checked (for servers whose certificates do not name the host they are reached by).
//!
//! Trusted CAs: the system's (`rustls-native-certs`: `/etc/ssl/certs`, or `SSL_CERT_FILE` /
//! `SSL_CERT_DIR`) plus the certificates of the PEM file named by `sslrootcert=/path/ca.pem`
//! (a private CA, a managed database's bundle). `sslrootcert=system` names the system's only.
//! `sslrootcert` under `disable` or `prefer` is refused: nothing would be verified.
//!
//! tokio-postgres knows neither `sslrootcert` nor the `verify-*` modes: [`parse`] takes them
//! out of the URL (`postgres://…?…` or `key=value …`; see `url`) before it reads the rest.
//!
//! [`explain`] words a TLS failure for people: an untrusted certificate, a certificate for
//! another name, a server without TLS under `require`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres::config::SslMode;

use self::url::split_options;
use super::error::PgError;
use crate::store::{StoreError, StoreResult};

mod url;

/// The connector of every connection of a store.
pub(super) type Tls = tokio_postgres_rustls::MakeRustlsConnect;

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verify {
    /// Nothing (`disable`, `prefer`).
    Nothing,
    /// Its chain to a trusted CA (`verify-ca`).
    Ca,
    /// Its chain and its name (`require`, `verify-full`).
    Full,
}

/// What the URL says about TLS, besides what tokio-postgres reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsOptions {
    pub(super) verify: Verify,
    /// `sslrootcert`, unless `system`.
    pub(super) root_cert: Option<PathBuf>,
}

fn invalid(what: String) -> StoreError {
    StoreError::database(PgError::new(what))
}

/// Reads a database URL (`postgres://…` or `key=value …`): the driver's configuration and
/// the TLS options.
pub(super) fn parse(url: &str) -> StoreResult<(tokio_postgres::Config, TlsOptions)> {
    let (rest, extra) = split_options(url);
    let config = tokio_postgres::Config::from_str(&rest)
        .map_err(|e| invalid(format!("invalid database URL: {e}")))?;
    let verify = match config.get_ssl_mode() {
        SslMode::Require if extra.verify_ca => Verify::Ca,
        SslMode::Require => Verify::Full,
        _ => Verify::Nothing,
    };
    if verify == Verify::Nothing && extra.root_cert.is_some() {
        return Err(invalid(
            "invalid database URL: sslrootcert is only used to verify the server's \
             certificate, which sslmode=prefer (the default) and disable do not: add \
             sslmode=require (or verify-ca)"
                .into(),
        ));
    }
    let root_cert = extra
        .root_cert
        .filter(|path| path != "system")
        .map(PathBuf::from);
    Ok((config, TlsOptions { verify, root_cert }))
}

/// The connector for `options`: rustls with the `ring` provider, ALPN `postgresql` (so
/// `sslnegotiation=direct` works too), trusting the system's CAs and `sslrootcert`'s.
pub(super) async fn connector(options: &TlsOptions) -> StoreResult<Tls> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("TLS: {e}")))?;
    let algorithms = provider.signature_verification_algorithms;
    let mut config = match options.verify {
        Verify::Full => builder
            .with_root_certificates(roots(options).await?)
            .with_no_client_auth(),
        Verify::Ca | Verify::Nothing => {
            let roots = match options.verify {
                Verify::Ca => Some(roots(options).await?),
                _ => None,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { roots, algorithms }))
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Tls::new(config))
}

/// The system's CAs and `sslrootcert`'s.
async fn roots(options: &TlsOptions) -> StoreResult<RootCertStore> {
    let native = tokio::task::spawn_blocking(rustls_native_certs::load_native_certs)
        .await
        .map_err(|e| invalid(format!("loading the system's CA certificates: {e}")))?;
    if native.certs.is_empty() {
        tracing::warn!(errors = ?native.errors, "no system CA certificates found");
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &options.root_cert {
        let shown = path.display();
        let pem = tokio::fs::read(path)
            .await
            .map_err(|e| invalid(format!("cannot read sslrootcert {shown}: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("sslrootcert {shown}: {e}")))?;
        if certs.is_empty() {
            return Err(invalid(format!(
                "sslrootcert {shown} holds no PEM certificate"
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("sslrootcert {shown}: {e}")))?;
        }
    }
    if roots.is_empty() {
        return Err(invalid(
            "no CA to verify the database server with: the system has none (Debian's \
             ca-certificates) and the URL names no sslrootcert"
                .into(),
        ));
    }
    Ok(roots)
}

/// The verifier of `prefer` (no certificate check) and `verify-ca` (the chain, not the
/// name). Handshake signatures are always checked.
#[derive(Debug)]
struct Lenient {
    roots: Option<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TLS failure of `e` in words, with what to do; `None` when it is no TLS failure.
pub(super) fn explain(e: &tokio_postgres::Error) -> Option<String> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let rustls = c.downcast_ref::<rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()?
                .get_ref()?
                .downcast_ref::<rustls::Error>()
        });
        if let Some(tls) = rustls {
            return Some(match tls {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
                    "the database server's TLS certificate is not signed by a CA this host \
                     trusts ({tls}): give the CA's certificate with sslrootcert=/path/to/ca.pem \
                     in the database URL"
                ),
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                ) => format!(
                    "the database server's TLS certificate does not name the host of the \
                     database URL ({tls}): connect by a name it lists, or check only its CA \
                     with sslmode=verify-ca"
                ),
                rustls::Error::InvalidCertificate(_) => {
                    format!("the database server's TLS certificate was refused: {tls}")
                }
                _ => format!("the TLS handshake with the database server failed: {tls}"),
            });
        }
        if c.to_string() == "server does not support TLS" {
            return Some(
                "the database server does not offer TLS, but the database URL requires it \
                 (sslmode): turn ssl on in the server, or (on a trusted network only) use \
                 sslmode=prefer or disable"
                    .into(),
            );
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_choose_what_is_verified() {
        let verify = |url: &str| parse(url).map(|(_, o)| o);
        let o = verify("postgres://h/db").unwrap();
        assert_eq!((o.verify, o.root_cert), (Verify::Nothing, None));
        assert_eq!(
            verify("postgres://h/db?sslmode=require").unwrap().verify,
            Verify::Full
        );
        assert_eq!(
            verify("host=h sslmode=verify-full").unwrap().verify,
            Verify::Full
        );
        let o = verify("postgres://h/db?sslmode=verify-ca&sslrootcert=/ca.pem").unwrap();
        assert_eq!(o.verify, Verify::Ca);
        assert_eq!(o.root_cert, Some(PathBuf::from("/ca.pem")));
        let o = verify("postgres://h/db?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!((o.verify, o.root_cert), (Verify::Full, None));
        for url in [
            "postgres://h/db?sslrootcert=/ca.pem",
            "postgres://h/db?sslmode=disable&sslrootcert=/ca.pem",
        ] {
            let e = verify(url).unwrap_err().to_string();
            assert!(e.contains("sslmode=require"), "{e}");
        }
        let e = verify("postgres://h/db?sslmode=bogus")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid database URL"), "{e}");
    }
}
