//! One connection's byte stream, server side or client side: plain TCP,
//! or TLS on top of it (accepted by the server on 465/993/995 or after
//! STARTTLS/STLS; dialled by the SMTP client and the fetcher).
//!
//! Sessions read and write through [`Stream`] whatever the transport and
//! direction, and upgrade it in place. The TLS state is boxed so that a
//! plain connection costs only its socket.

use std::io;
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use smol::Async;
use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::deflate::Deflate;
use super::{HANDSHAKE_TIMEOUT, Input, timed, timed_out};

pub enum Stream {
    Plain(Async<TcpStream>),
    Tls(Box<futures_rustls::TlsStream<Async<TcpStream>>>),
    /// Plain or TLS with deflate on top (RFC 4978).
    Deflate(Box<Deflate>),
    /// While the socket is inside a handshake, and after one failed: any
    /// read or write is `NotConnected`.
    Closed,
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Tls(_) => true,
            Stream::Deflate(d) => d.inner().is_tls(),
            _ => false,
        }
    }

    pub fn is_compressed(&self) -> bool {
        matches!(self, Stream::Deflate(_))
    }

    /// Turns deflate on both ways (RFC 4978 §3), once the OK that says so
    /// has been written and flushed uncompressed; a second time is an error.
    pub fn start_deflate(&mut self) -> io::Result<()> {
        match std::mem::replace(self, Stream::Closed) {
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
            Stream::Deflate(d) => {
                *self = Stream::Deflate(d);
                Err(io::Error::other("compression is already active"))
            }
            inner => {
                *self = Stream::Deflate(Box::new(Deflate::new(inner)));
                Ok(())
            }
        }
    }

    /// Takes the plain socket out for a handshake.
    fn take_plain(&mut self) -> io::Result<Async<TcpStream>> {
        match std::mem::replace(self, Stream::Closed) {
            Stream::Plain(tcp) => Ok(tcp),
            other => {
                *self = other;
                Err(io::Error::other("TLS is already active"))
            }
        }
    }

    /// The server side of a TLS handshake (implicit TLS, or after
    /// STARTTLS/STLS: see [`starttls`]), within [`HANDSHAKE_TIMEOUT`].
    pub async fn accept_tls(&mut self, acceptor: &super::tls::Acceptor) -> io::Result<()> {
        let tcp = self.take_plain()?;
        let tls = timed(HANDSHAKE_TIMEOUT, timed_out, acceptor.accept(tcp)).await?;
        *self = Stream::Tls(Box::new(tls.into()));
        Ok(())
    }

    /// The client side of a TLS handshake with `server` (its name is sent
    /// as SNI and checked against the certificate by `config`'s verifier).
    pub async fn connect_tls(
        &mut self,
        config: &Arc<ClientConfig>,
        server: ServerName<'static>,
        limit: Duration,
    ) -> io::Result<()> {
        let tcp = self.take_plain()?;
        let connector = futures_rustls::TlsConnector::from(config.clone());
        let tls = timed(limit, timed_out, connector.connect(server, tcp)).await?;
        *self = Stream::Tls(Box::new(tls.into()));
        Ok(())
    }

    /// Writes and flushes `bytes` (TLS holds records until flushed),
    /// giving up after `limit`: a peer that stops reading must not hold
    /// its session forever.
    pub async fn write_timed(&mut self, bytes: &[u8], limit: Duration) -> io::Result<()> {
        timed(limit, timed_out, async {
            self.write_all(bytes).await?;
            self.flush().await
        })
        .await
    }

    /// TLS protocol version and cipher suite by its IANA name, for
    /// Received: headers and logs, as Postfix writes them:
    /// `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384`.
    pub fn tls_description(&self) -> Option<String> {
        let tls = match self {
            Stream::Tls(tls) => tls,
            Stream::Deflate(d) => return d.inner().tls_description(),
            _ => return None,
        };
        let (_, conn) = tls.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| super::tls::suite_name(u16::from(s.suite())))
            .unwrap_or_default();
        Some(format!("{} with cipher {suite}", version.replace('_', ".")))
    }
}

/// The server side of STARTTLS (RFC 3207 §4.2), STLS (RFC 2595 §4) and
/// IMAP's STARTTLS (RFC 3501 §6.2.1), once the positive reply is written:
/// whatever the client pipelined behind the command arrived in plaintext
/// and is thrown away, never executed (the CVE-2011-0411 class), then the
/// handshake runs. Both are logged as `who` (`[7] smtp`) with `command`'s
/// name. Returns how many bytes were thrown away; after a failed
/// handshake the stream is closed and the session should end.
pub async fn starttls(
    stream: &mut Stream,
    input: &mut Input,
    acceptor: &super::tls::Acceptor,
    who: &str,
    command: &str,
) -> io::Result<usize> {
    let discarded = input.discard();
    if discarded > 0 {
        log::warn!("{who}: discarded {discarded} plaintext bytes sent after {command}");
    }
    match stream.accept_tls(acceptor).await {
        Ok(()) => Ok(discarded),
        Err(e) => {
            log::info!("{who}: {command} handshake failed: {e}");
            Err(e)
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_close(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::AsyncReadExt;
    use std::net::TcpListener;

    /// A self-signed `CA:TRUE` certificate and a server configuration
    /// serving it, as a homelab server made with `openssl req -x509` has.
    fn server(name: &str) -> (String, super::super::tls::Acceptor) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(super::super::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der)
            .unwrap();
        (
            cert.pem(),
            super::super::tls::Acceptor::new(Arc::new(config), None),
        )
    }

    async fn read_line(stream: &mut Stream) -> String {
        let mut line = Vec::new();
        let mut byte = [0u8];
        while !line.ends_with(b"\n") {
            assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "EOF");
            line.push(byte[0]);
        }
        String::from_utf8(line).unwrap()
    }

    /// STARTTLS both ways over loopback: the server throws away what was
    /// pipelined behind the command and says how much; the client trusts
    /// the server's own CA:TRUE certificate given as its CA file.
    #[test]
    fn starttls_discards_pipelined_plaintext() {
        let (pem, acceptor) = server("nas.lan");
        let listener = Async::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let evil = b"MAIL FROM:<evil>\r\n";
        let limit = Duration::from_secs(10);
        let server = async {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = Stream::Plain(tcp);
            let mut input = Input::new();
            let n = input.line(&mut stream, 100, limit).await.unwrap();
            assert_eq!(&input.buffered()[..n], b"STARTTLS\r\n");
            input.consume(n);
            while input.buffered().len() < evil.len() {
                input.fill(&mut stream, 100, limit).await.unwrap();
            }
            stream
                .write_timed(b"220 go ahead\r\n", limit)
                .await
                .unwrap();
            let dropped = starttls(&mut stream, &mut input, &acceptor, "[1] test", "STARTTLS");
            assert_eq!(dropped.await.unwrap(), evil.len());
            assert!(stream.is_tls());
            assert!(stream.tls_description().unwrap().starts_with("TLSv1.3 "));
            let n = input.line(&mut stream, 100, limit).await.unwrap();
            assert_eq!(&input.buffered()[..n], b"EHLO x\r\n");
            stream.write_timed(b"250 ok\r\n", limit).await.unwrap();
            // A second upgrade is refused, and the stream stays usable.
            assert!(stream.accept_tls(&acceptor).await.is_err());
            assert!(stream.is_tls());
        };
        let client = async {
            let mut stream = crate::net::connect(&[addr], limit).await.unwrap();
            let mut pipelined = b"STARTTLS\r\n".to_vec();
            pipelined.extend_from_slice(evil);
            stream.write_timed(&pipelined, limit).await.unwrap();
            assert_eq!(read_line(&mut stream).await, "220 go ahead\r\n");
            let config = crate::net::tls::verified_pem(pem.as_bytes(), "test").unwrap();
            let name = crate::net::tls::server_name("nas.lan").unwrap();
            stream.connect_tls(&config, name, limit).await.unwrap();
            stream.write_timed(b"EHLO x\r\n", limit).await.unwrap();
            assert_eq!(read_line(&mut stream).await, "250 ok\r\n");
        };
        smol::block_on(smol::future::zip(server, client));
    }

    /// Another self-signed certificate than the one given is refused.
    #[test]
    fn client_tls_refuses_another_self_signed_certificate() {
        let (_, acceptor) = server("nas.lan");
        let (other_pem, _) = server("nas.lan");
        let listener = Async::new(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
        let addr = listener.get_ref().local_addr().unwrap();
        let limit = Duration::from_secs(10);
        let server = async {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream = Stream::Plain(tcp);
            assert!(stream.accept_tls(&acceptor).await.is_err());
        };
        let client = async {
            let mut stream = crate::net::connect(&[addr], limit).await.unwrap();
            let config = crate::net::tls::verified_pem(other_pem.as_bytes(), "test").unwrap();
            let name = crate::net::tls::server_name("nas.lan").unwrap();
            let err = stream.connect_tls(&config, name, limit).await.unwrap_err();
            assert!(
                err.to_string().contains("invalid peer certificate"),
                "{err}"
            );
            assert!(!stream.is_tls());
        };
        smol::block_on(smol::future::zip(server, client));
    }
}
