//! One TCP connection to the XMPP server, carrying the core client's bytes
//! in the clear until STARTTLS and through rustls after it.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use async_io::{Async, Timer};
use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use smol::io::{AsyncReadExt, AsyncWriteExt};

use crate::core::xmpp::Client;
use crate::io::run::Clock;

/// TCP connect and TLS handshake limits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Conn {
    sock: Async<TcpStream>,
    tls: Option<Box<ClientConnection>>,
    pub peer: SocketAddr,
}

async fn timeout<T>(d: Duration, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    smol::future::or(f, async {
        Timer::after(d).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    })
    .await
}

/// Resolves `host` (once per attempt) and connects to the first address
/// that answers.
pub async fn connect(host: &str, port: u16) -> io::Result<Conn> {
    let addrs = crate::io::resolve::resolve(host, port).await?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "name resolved to no address");
    for a in addrs {
        match timeout(CONNECT_TIMEOUT, Async::<TcpStream>::connect(a)).await {
            Ok(sock) => {
                let _ = sock.get_ref().set_nodelay(true);
                return Ok(Conn {
                    sock,
                    tls: None,
                    peer: a,
                });
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Conn {
    /// Sends everything the client has queued.
    pub async fn flush(&mut self, client: &mut Client) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        while let Some(n) = client.poll_transmit(&mut buf) {
            match &mut self.tls {
                None => (&self.sock).write_all(&buf[..n]).await?,
                Some(tls) => tls.writer().write_all(&buf[..n])?,
            }
        }
        self.flush_tls().await
    }

    async fn flush_tls(&mut self) -> io::Result<()> {
        let Some(tls) = &mut self.tls else {
            return Ok(());
        };
        while tls.wants_write() {
            let mut out = Vec::new();
            tls.write_tls(&mut out)?;
            (&self.sock).write_all(&out).await?;
        }
        Ok(())
    }

    /// Waits for bytes from the server and returns them decrypted; an
    /// empty vector means only TLS records without data arrived.
    /// `Ok(None)` is end of stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<Vec<u8>>> {
        let n = (&self.sock).read(buf).await?;
        if n == 0 {
            return Ok(None);
        }
        let Some(tls) = &mut self.tls else {
            return Ok(Some(buf[..n].to_vec()));
        };
        let mut plain = Vec::new();
        let mut data = &buf[..n];
        while !data.is_empty() {
            tls.read_tls(&mut data)?;
            let state = tls
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if state.plaintext_bytes_to_read() > 0 {
                let start = plain.len();
                plain.resize(start + state.plaintext_bytes_to_read(), 0);
                tls.reader().read_exact(&mut plain[start..])?;
            }
            if state.peer_has_closed() {
                return Ok(if plain.is_empty() { None } else { Some(plain) });
            }
        }
        // Anything rustls must answer (alerts, key updates) goes out with
        // the next `flush`, which the caller runs after every input; nothing
        // here awaits after the read, so dropping this future loses nothing.
        Ok(Some(plain))
    }

    /// Runs the TLS handshake on the open connection.
    pub async fn start_tls(
        &mut self,
        cfg: Arc<rustls::ClientConfig>,
        server_name: &str,
    ) -> io::Result<()> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tls = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
        self.tls = Some(Box::new(tls));
        timeout(HANDSHAKE_TIMEOUT, self.handshake()).await
    }

    async fn handshake(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 8192];
        loop {
            self.flush_tls().await?;
            let Some(tls) = &mut self.tls else {
                return Ok(());
            };
            if !tls.is_handshaking() {
                return Ok(());
            }
            let n = (&self.sock).read(&mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed during TLS handshake",
                ));
            }
            let mut data = &buf[..n];
            while !data.is_empty() {
                tls.read_tls(&mut data)?;
                if let Err(e) = tls.process_new_packets() {
                    // Send the alert, then fail with rustls' reason.
                    let _ = self.flush_tls().await;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            }
        }
    }

    /// "TLS 1.3 TLS13_AES_256_GCM_SHA384", or "none".
    pub fn tls_description(&self) -> String {
        match &self.tls {
            None => "none".into(),
            Some(t) => match (t.protocol_version(), t.negotiated_cipher_suite()) {
                (Some(v), Some(s)) => format!("{v:?} {:?}", s.suite()),
                _ => "handshaking".into(),
            },
        }
    }

    pub async fn close(mut self, client: &mut Client) {
        let _ = self.flush(client).await;
        if let Some(tls) = &mut self.tls {
            tls.send_close_notify();
            let _ = self.flush_tls().await;
        }
        let _ = self.sock.get_ref().shutdown(std::net::Shutdown::Both);
    }
}

/// What woke the connection loop.
pub enum Wake<C> {
    Input(io::Result<Option<Vec<u8>>>),
    Command(Option<C>),
    Timer,
}

/// Waits for server bytes, a command (if a receiver is given) or the
/// client's next deadline.
pub async fn wait<C>(
    conn: &mut Conn,
    client: &Client,
    clock: &Clock,
    commands: Option<&smol::channel::Receiver<C>>,
    buf: &mut [u8],
) -> Wake<C> {
    let deadline = client.poll_timeout().map(|t| clock.to_std(t));
    let timer = async {
        match deadline {
            Some(t) => {
                Timer::at(t).await;
            }
            None => std::future::pending::<()>().await,
        }
        Wake::Timer
    };
    let cmd = async {
        match commands {
            Some(rx) => Wake::Command(rx.recv().await.ok()),
            None => std::future::pending().await,
        }
    };
    let input = async { Wake::Input(conn.read(buf).await) };
    smol::future::or(input, smol::future::or(cmd, timer)).await
}
