//! An outbound connection's byte stream: plain TCP, or TLS over it (from
//! the first byte, or after STARTTLS). The SMTP client here and the IMAP
//! client of `crate::fetch` both talk through it.

use std::net::TcpStream;

use smol::Async;
use smol::io::{AsyncReadExt, AsyncWriteExt};

pub enum Io {
    Plain(Async<TcpStream>),
    Tls(Box<futures_rustls::client::TlsStream<Async<TcpStream>>>),
    /// Between taking the plain stream for a STARTTLS handshake and
    /// getting the TLS stream back.
    Gone,
}

impl Io {
    pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf).await,
            Io::Tls(s) => s.read(buf).await,
            Io::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    /// Writes and flushes (TLS buffers records until flushed).
    pub async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Io::Plain(s) => s.write_all(bytes).await,
            Io::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Io::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    pub async fn close(&mut self) {
        let _ = match self {
            Io::Plain(s) => s.close().await,
            Io::Tls(s) => s.close().await,
            Io::Gone => Ok(()),
        };
    }
}
