//! SIGINT/SIGTERM as an awaitable event (self-pipe), so `ipop run` can clean
//! up its TAP from the event loop instead of dying mid-write.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, Ordering};

use async_io::Async;

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(_: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // Async-signal-safe: one byte, result ignored (a full pipe is fine).
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn wait_for_shutdown() -> io::Result<()> {
    let (rx, tx) = UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    PIPE_WRITE.store(std::os::fd::IntoRawFd::into_raw_fd(tx), Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    let rx = Async::new(rx)?;
    let mut b = [0u8; 1];
    rx.read_with(|mut s| s.read(&mut b)).await?;
    log::info!("shutting down");
    Ok(())
}
