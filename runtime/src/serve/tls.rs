//! TLS on rustls (the `tls` feature; ring as the crypto provider, no OpenSSL), for
//! deployments without a proxy in front: HTTP/2 or HTTP/1.1 by ALPN, on the same port.
//! The handshake happens in the connection's task, within the time to start a request.

#[cfg(feature = "tls")]
mod enabled {
    use std::fmt;
    use std::io;
    use std::sync::Arc;

    use tokio::net::TcpStream;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{self, ServerConfig};
    use tokio_rustls::server::TlsStream;

    /// A certificate chain and private key, in PEM, as given to `Server::tls`.
    #[derive(Clone)]
    pub(crate) struct Pem {
        pub(crate) cert: Vec<u8>,
        pub(crate) key: Vec<u8>,
    }

    impl fmt::Debug for Pem {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // Never the key.
            f.debug_struct("Pem").field("cert_bytes", &self.cert.len()).finish_non_exhaustive()
        }
    }

    /// Accepts TLS connections with one certificate.
    pub(crate) struct Acceptor(tokio_rustls::TlsAcceptor);

    impl Acceptor {
        /// Parses the PEM and makes the rustls settings: TLS 1.2 and 1.3, ALPN `h2` then
        /// `http/1.1`.
        pub(crate) fn new(pem: &Pem) -> io::Result<Acceptor> {
            let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
            let certs = CertificateDer::pem_slice_iter(&pem.cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("Server::tls: the certificate is not valid PEM ({e}); pass the contents of a `-----BEGIN CERTIFICATE-----` file, the server's certificate first, then its chain")))?;
            if certs.is_empty() {
                return Err(invalid(
                    "Server::tls: no certificate found; pass the contents of a PEM file holding `-----BEGIN CERTIFICATE-----` blocks".to_string(),
                ));
            }
            let key = PrivateKeyDer::from_pem_slice(&pem.key).map_err(|e| {
                invalid(format!("Server::tls: no private key found ({e}); pass the contents of a PEM file holding a `-----BEGIN PRIVATE KEY-----` (PKCS#8), RSA or EC key"))
            })?;
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| invalid(format!("Server::tls: {e}")))?
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .map_err(|e| invalid(format!("Server::tls: the key does not fit the certificate ({e}); check that both files belong together")))?;
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Ok(Acceptor(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
        }

        /// The TLS handshake on an accepted connection.
        pub(crate) async fn accept(&self, stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
            self.0.accept(stream).await
        }
    }
}

#[cfg(feature = "tls")]
pub(crate) use enabled::{Acceptor, Pem};

/// Without the `tls` feature there is no acceptor, and no connection is ever encrypted.
#[cfg(not(feature = "tls"))]
pub(crate) enum Acceptor {}

#[cfg(not(feature = "tls"))]
impl Acceptor {
    pub(crate) async fn accept(
        &self,
        _stream: tokio::net::TcpStream,
    ) -> std::io::Result<tokio::net::TcpStream> {
        match *self {}
    }
}
