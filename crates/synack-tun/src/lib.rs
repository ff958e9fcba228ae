//! synack on real I/O: the sans-IO core driven by tokio over a packet [`device::Device`]
//! (an in-memory link for tests, or a Linux TUN device), behind a `TcpListener` /
//! `TcpStream` API shaped like `tokio::net`.

pub mod device;
#[cfg(target_os = "linux")]
pub mod tun;
