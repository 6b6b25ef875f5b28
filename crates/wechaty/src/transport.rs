//! Transport: the tonic channel (plaintext h2c or rustls TLS, HTTP/2 keep-alive) and the
//! interceptor that puts `authorization: Wechaty <token>` on every call.

use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::config::{Config, TlsConfig};
use crate::error::{Error, Result};
use crate::proto::wechaty::puppet_client::PuppetClient;

/// Adds the token to every request's metadata.
#[derive(Clone)]
pub(crate) struct Auth(MetadataValue<Ascii>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// The generated client over our channel and interceptor.
pub(crate) type Rpc = PuppetClient<InterceptedService<Channel, Auth>>;

/// Largest message we accept or send (the service's own limit is gRPC's default 4 MiB).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

pub(crate) fn auth(config: &Config) -> Result<Auth> {
    Ok(Auth(config.authorization()?))
}

pub(crate) fn endpoint(config: &Config) -> Result<Endpoint> {
    let uri = config.uri()?;
    let mut ep = Endpoint::from_shared(uri.clone())
        .map_err(|e| Error::Config(format!("endpoint {uri}: {e}")))?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if let TlsConfig::Tls {
        ca_pem,
        server_name,
    } = &config.tls
    {
        let mut tls = ClientTlsConfig::new();
        tls = match ca_pem {
            Some(pem) => {
                if !pem.contains("-----BEGIN CERTIFICATE-----") {
                    return Err(Error::Config(
                        "the TLS CA is not a PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                    ));
                }
                tls.ca_certificate(Certificate::from_pem(pem))
            }
            None => tls.with_webpki_roots(),
        };
        if let Some(name) = server_name.as_deref().filter(|n| !n.is_empty()) {
            tls = tls.domain_name(name);
        }
        ep = ep.tls_config(tls).map_err(|e| {
            Error::Config(format!("TLS configuration: {}", Error::from_transport(&e)))
        })?;
    }
    Ok(ep)
}

pub(crate) fn rpc(channel: Channel, auth: Auth) -> Rpc {
    PuppetClient::with_interceptor(channel, auth)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE)
}
