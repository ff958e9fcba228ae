//! A streaming pcap writer for what crosses a TUN device, as a [`PacketFilter`] that keeps
//! every packet and records it.
//!
//! The format is the simulator's (`synack_sim::pcap`): classic pcap, microsecond timestamps,
//! link type RAW (101, each frame a bare IPv4 or IPv6 packet). That writer turns a finished
//! simulator record into a file; a live device needs one that appends each packet as it
//! passes, from the runtime's tasks, hence this one.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{Direction, PacketFilter};

const LINKTYPE_RAW: u32 = 101;
/// Frames are cut to this many bytes (the header's snaplen): a capture of a bulk transfer
/// keeps every header and the start of each payload.
pub const SNAPLEN: u32 = 65_535;

/// Appends packets to a pcap stream.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?; // magic: µs timestamps, our byte order
        out.write_all(&2u16.to_le_bytes())?; // version 2.4
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?; // GMT offset
        out.write_all(&0u32.to_le_bytes())?; // timestamp accuracy
        out.write_all(&SNAPLEN.to_le_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    /// Append one packet stamped `at` (wall-clock time, as tcpdump stamps).
    pub fn packet(&mut self, at: SystemTime, packet: &[u8]) -> io::Result<()> {
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let caplen = packet.len().min(SNAPLEN as usize);
        self.out
            .write_all(&(since.as_secs() as u32).to_le_bytes())?;
        self.out.write_all(&since.subsec_micros().to_le_bytes())?;
        self.out.write_all(&(caplen as u32).to_le_bytes())?;
        self.out.write_all(&(packet.len() as u32).to_le_bytes())?;
        self.out.write_all(&packet[..caplen])
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A filter that records every packet, both directions, to `writer` and drops none; `inner`
/// (if any) decides afterwards. Packets are recorded as they cross the device: after GSO
/// splitting on the way in, before GRO coalescing on the way out, so the capture shows the
/// MTU-sized segments each stack really handled. Write errors stop the capture, not the
/// traffic. Flush the writer (e.g. a `BufWriter`'s drop) to finish the file.
pub fn capture<W: Write + Send + 'static>(
    writer: Arc<Mutex<PcapWriter<W>>>,
    inner: Option<PacketFilter>,
) -> PacketFilter {
    Arc::new(move |dir: Direction, packet: &[u8]| {
        let keep = inner.as_ref().is_none_or(|f| f(dir, packet));
        if keep {
            if let Ok(mut w) = writer.lock() {
                let _ = w.packet(SystemTime::now(), packet);
            }
        }
        keep
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_then_frames() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(3_000_250);
        w.packet(at, &[0x45, 0, 0, 20]).unwrap();
        let out = w.out;
        assert_eq!(out.len(), 24 + 16 + 4);
        assert_eq!(&out[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&out[20..24], &101u32.to_le_bytes());
        assert_eq!(&out[24..28], &3u32.to_le_bytes());
        assert_eq!(&out[28..32], &250u32.to_le_bytes());
        assert_eq!(&out[32..36], &4u32.to_le_bytes());
        assert_eq!(&out[40..], &[0x45, 0, 0, 20]);
    }
}
