//! A client connection's byte stream: plain TCP, or TLS on top of it.
//!
//! Sessions read and write through [`Stream`] whatever the transport, and
//! upgrade it in place for STARTTLS/STLS. The TLS state is boxed so that
//! a plain connection costs only its socket.

use std::io;
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_rustls::server::TlsStream;
use smol::Async;
use smol::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

pub enum Stream {
    Plain(Async<TcpStream>),
    Tls(Box<TlsStream<Async<TcpStream>>>),
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Runs the TLS handshake over a plain stream (STARTTLS, RFC 3207).
    /// The caller must have discarded any plaintext it buffered after the
    /// STARTTLS command (the CVE-2011-0411 class): this only sees the socket.
    pub async fn start_tls(self, acceptor: &futures_rustls::TlsAcceptor) -> io::Result<Stream> {
        match self {
            Stream::Plain(tcp) => Ok(Stream::Tls(Box::new(acceptor.accept(tcp).await?))),
            Stream::Tls(_) => Err(io::Error::other("TLS is already active")),
        }
    }

    /// STARTTLS with the server's handshake time limit.
    pub async fn start_tls_timed(
        self,
        acceptor: &futures_rustls::TlsAcceptor,
    ) -> io::Result<Stream> {
        let timeout = async {
            smol::Timer::after(super::HANDSHAKE_TIMEOUT).await;
            Err(io::Error::from(io::ErrorKind::TimedOut))
        };
        smol::future::or(self.start_tls(acceptor), timeout).await
    }

    /// Writes and flushes `bytes`, giving up after `limit` (a client that
    /// stops reading must not hold its session forever).
    pub async fn write_timed(
        &mut self,
        bytes: &[u8],
        limit: std::time::Duration,
    ) -> io::Result<()> {
        let write = async {
            self.write_all(bytes).await?;
            self.flush().await
        };
        let timeout = async {
            smol::Timer::after(limit).await;
            Err(io::Error::from(io::ErrorKind::TimedOut))
        };
        smol::future::or(write, timeout).await
    }

    /// TLS protocol version and cipher suite, for Received: headers and logs.
    pub fn tls_description(&self) -> Option<String> {
        let Stream::Tls(tls) = self else { return None };
        let (_, conn) = tls.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        Some(format!("{} {}", version.replace('_', "."), suite))
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
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_close(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}
