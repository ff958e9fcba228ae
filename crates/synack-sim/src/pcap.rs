//! A pcap writer: the packets of a record as a capture file Wireshark and tcpdump read
//! (link type RAW: each frame is a bare IPv4 or IPv6 packet).

use crate::record::{Fate, Record};
use std::io::{self, Write};

/// Where the capture is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tap {
    /// Every packet as it leaves its sender (lost ones included), at its send time.
    Wire,
    /// Every copy that reached this host, at its arrival time (written as it was sent: a bit
    /// flipped on the way is not reproduced in the capture).
    Host(usize),
}

const LINKTYPE_RAW: u32 = 101;

/// Write the record's packets as a pcap file (microsecond timestamps from virtual time zero).
pub fn write(rec: &Record, tap: Tap, out: &mut impl Write) -> io::Result<()> {
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&0i32.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&65_535u32.to_le_bytes())?;
    out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
    let mut frames: Vec<(u64, &[u8])> = Vec::new();
    for p in &rec.packets {
        match tap {
            Tap::Wire => frames.push((p.sent.as_micros(), &p.bytes)),
            Tap::Host(h) if p.to == Some(h) => {
                for f in &p.fates {
                    if let Fate::Delivered { at, .. } = f {
                        frames.push((at.as_micros(), &p.bytes));
                    }
                }
            }
            Tap::Host(_) => {}
        }
    }
    frames.sort_by_key(|f| f.0);
    for (us, bytes) in frames {
        out.write_all(&((us / 1_000_000) as u32).to_le_bytes())?;
        out.write_all(&((us % 1_000_000) as u32).to_le_bytes())?;
        out.write_all(&(bytes.len() as u32).to_le_bytes())?;
        out.write_all(&(bytes.len() as u32).to_le_bytes())?;
        out.write_all(bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{summarize, RawPacket};
    use crate::record::PacketRecord;
    use synack::wire::TcpFlags;
    use synack::Instant;

    #[test]
    fn header_and_one_frame() {
        let bytes = RawPacket::new(
            "198.18.1.1:1".parse().unwrap(),
            "198.18.1.2:2".parse().unwrap(),
        )
        .flags(TcpFlags::SYN)
        .build();
        let mut rec = Record::default();
        rec.packets.push(PacketRecord {
            id: 0,
            sent: Instant::from_micros(1_500_000),
            from: Some(0),
            to: Some(1),
            label: None,
            summary: summarize(&bytes),
            bytes: bytes.clone(),
            fates: vec![],
        });
        let mut out = Vec::new();
        write(&rec, Tap::Wire, &mut out).unwrap();
        assert_eq!(out.len(), 24 + 16 + bytes.len());
        assert_eq!(&out[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&out[20..24], &101u32.to_le_bytes());
        assert_eq!(&out[24..28], &1u32.to_le_bytes());
        assert_eq!(&out[28..32], &500_000u32.to_le_bytes());
        assert_eq!(&out[40..], &bytes[..]);
        let mut none = Vec::new();
        write(&rec, Tap::Host(1), &mut none).unwrap();
        assert_eq!(none.len(), 24);
    }
}
