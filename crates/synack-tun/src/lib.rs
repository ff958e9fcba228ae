//! synack on real I/O: the sans-IO core driven by tokio over a packet [`device::Device`]
//! (an in-memory link for tests, or a Linux TUN device), behind a [`TcpListener`] /
//! [`TcpStream`] API shaped like `tokio::net`.
//!
//! A [`Net`] owns one stack and its runtime (two tasks: device receive, and timers plus
//! device send; see `runtime.rs`). Sockets are made from it:
//!
//! ```
//! use synack_tun::{device::memory, Net, TcpListener, TcpStream};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // Two stacks joined by an in-memory link.
//! let (a, b) = memory::pair();
//! let client = Net::new(a, synack::Config::default(), ["198.18.0.1".parse().unwrap()])?;
//! let server = Net::new(b, synack::Config::default(), ["198.18.0.2".parse().unwrap()])?;
//!
//! let listener = TcpListener::bind(&server, "198.18.0.2:7".parse().unwrap()).await?;
//! tokio::spawn(async move {
//!     let (mut stream, _peer) = listener.accept().await?;
//!     let mut buf = [0u8; 64];
//!     let n = stream.read(&mut buf).await?;
//!     stream.write_all(&buf[..n]).await?;
//!     stream.shutdown().await // half-close: FIN
//! # ; Ok::<_, std::io::Error>(())
//! });
//!
//! let mut stream = TcpStream::connect(&client, "198.18.0.2:7".parse().unwrap()).await?;
//! stream.write_all(b"hello").await?;
//! let mut echoed = Vec::new();
//! stream.read_to_end(&mut echoed).await?; // Ok(0) at the peer's FIN ends it
//! assert_eq!(echoed, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! For tun2socks-style proxies, [`TcpListener::listen_any`] accepts connections to every
//! destination; each stream's [`TcpStream::local_addr`] is the address the peer dialled.
//!
//! How it runs: the stack sits behind a mutex that is never held across an `.await`. One
//! task receives batches from the device, feeds them to the stack and sends the replies
//! (ACKs, data a window update lets out) itself; another runs the stack's timers on tokio's
//! clock (so `tokio::time::pause()` drives them too) and sends whatever else the stack has to
//! send, in batches of up to [`device::Device::max_batch`] packets.
//! Socket calls go to the stack directly and nudge the sending task; the stack's events
//! wake exactly the tasks waiting on that connection or listener. Packets to the stack's
//! own addresses are looped back without touching the device. When the last [`Net`] clone
//! and the last socket are gone, the final segments are sent and both tasks end.
//!
//! Errors are `io::Error`s with the kinds sockets use: `ConnectionRefused`,
//! `ConnectionReset`, `TimedOut`, `ConnectionAborted` (after [`TcpStream::abort`]),
//! `AddrInUse`, `AddrNotAvailable`, `NotConnected`, `BrokenPipe` (writing after
//! shutdown). Reads return `Ok(0)` at the peer's FIN. Writes wait while the send buffer
//! (`Config::send_buffer`) is full and reads while nothing has arrived, so a slow reader
//! closes the peer's window and memory stays bounded by the configured buffers.

pub mod device;
mod net;
mod runtime;
mod tcp;

pub use net::Net;
pub use tcp::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpListener, TcpStream, WriteHalf,
    DEFAULT_BACKLOG,
};

/// The Linux TUN device and the network-namespace helpers its tests use.
#[cfg(target_os = "linux")]
pub mod tun;
