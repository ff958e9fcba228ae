//! `synack serve` and `synack connect` end to end, against the Linux kernel in a throw-away
//! network namespace (addresses from 198.18.0.0/15 and 2001:db8::/32 only). Each test prints
//! `skipped: <why>` and passes where namespaces cannot be made (not root, no /dev/net/tun, no
//! `ip`). The connect test also writes a pcap and, when tshark is installed, checks that
//! tshark reads the SYN and SYN,ACK from it with the right ports.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use synack_tun::tun::netns::{self, Netns};

const BIN: &str = env!("CARGO_BIN_EXE_synack");

/// Start `synack ARGS` inside the namespace, with its stdout read line by line into a channel.
fn spawn_in(ns: &Netns, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), BIN])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start synack");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Lines until one contains `want` (at most `limit`), all of them returned.
fn lines_until(rx: &mpsc::Receiver<String>, want: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                let done = l.contains(want);
                seen.push(l);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line containing {want:?} in time; got {seen:#?}");
}

/// Wait for the child to exit (bounded), killing it if it does not.
fn wait_bounded(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.success();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("synack did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn echo_through(ns: &Netns, to: SocketAddr, msg: &'static [u8]) -> Vec<u8> {
    ns.run(move || -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(msg)?;
        s.shutdown(Shutdown::Write)?;
        let mut back = Vec::new();
        s.read_to_end(&mut back)?;
        Ok(back)
    })
    .expect("thread in the namespace")
    .expect("echo through synack")
}

#[test]
fn serve_echo_ipv4_and_ipv6() {
    if let Some(why) = netns::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let ns = Netns::create().expect("namespace");
    let (mut child, rx) = spawn_in(
        &ns,
        &[
            "serve",
            "--tun",
            "syn0",
            "--addr",
            "198.18.0.2/24",
            "--addr",
            "2001:db8::2/64",
            "--port",
            "7",
            "echo",
            "--count",
            "2",
        ],
    );
    let head = lines_until(&rx, "listening on [2001:db8::2]:7", Duration::from_secs(20));
    assert!(
        head[0].contains(
            "syn0: kernel side 198.18.0.1/24 2001:db8::1/64, synack 198.18.0.2 2001:db8::2"
        ),
        "{head:#?}"
    );
    let v4 = echo_through(&ns, "198.18.0.2:7".parse().unwrap(), b"hello over IPv4");
    assert_eq!(v4, b"hello over IPv4");
    let v6 = echo_through(&ns, "[2001:db8::2]:7".parse().unwrap(), b"hello over IPv6");
    assert_eq!(v6, b"hello over IPv6");
    assert!(
        wait_bounded(&mut child, Duration::from_secs(20)),
        "serve exits 0 after --count 2"
    );
    let rest: Vec<String> = rx.try_iter().collect();
    let closed = rest.iter().filter(|l| l.contains("closed after")).count();
    assert_eq!(closed, 2, "{rest:#?}");
    assert!(
        rest.iter().any(|l| l.contains("read 15 bytes, wrote 15")),
        "{rest:#?}"
    );
}

/// tshark's view of the capture: (src port, dst port, flags) of every SYN.
fn tshark_syns(file: &std::path::Path) -> Option<Vec<(u16, u16, String)>> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-Y", "tcp.flags.syn == 1", "-T", "fields"])
        .args(["-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags"])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                Some((
                    f.first()?.parse().ok()?,
                    f.get(1)?.parse().ok()?,
                    f.get(2)?.to_string(),
                ))
            })
            .collect(),
    )
}

#[test]
fn connect_sends_bytes_and_writes_a_pcap() {
    if let Some(why) = netns::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let ns = Netns::create().expect("namespace");
    // The kernel's server binds the wildcard: its address on the TUN exists only once synack
    // has made the device.
    let listener = ns
        .run(|| std::net::TcpListener::bind("0.0.0.0:5000"))
        .unwrap()
        .expect("kernel listener");
    let server = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        assert!(
            got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
            "the pattern"
        );
        s.write_all(b"thanks")?;
        Ok(got.len())
    });
    let pcap = std::env::temp_dir().join(format!("synack-connect-{}.pcap", std::process::id()));
    let (mut child, rx) = spawn_in(
        &ns,
        &[
            "connect",
            "--tun",
            "syn0",
            "--addr",
            "198.18.0.2/24",
            "198.18.0.1:5000",
            "--bytes",
            "300000",
            "--pcap",
            pcap.to_str().unwrap(),
        ],
    );
    assert!(
        wait_bounded(&mut child, Duration::from_secs(30)),
        "connect exits 0"
    );
    let out: Vec<String> = rx.try_iter().collect();
    assert_eq!(server.join().unwrap().expect("kernel server"), 300_000);
    assert!(
        out.iter()
            .any(|l| l.starts_with("connected 198.18.0.2:") && l.contains("-> 198.18.0.1:5000")),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .any(|l| l.contains("sent 300000 bytes") && l.contains("received 6 bytes")),
        "{out:#?}"
    );
    let bytes = std::fs::read(&pcap).expect("the capture was written");
    assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    assert_eq!(&bytes[20..24], &101u32.to_le_bytes(), "LINKTYPE_RAW");
    match tshark_syns(&pcap) {
        None => println!("tshark not installed: capture format checked, contents not"),
        Some(syns) => {
            let client_port = syns
                .iter()
                .find(|(_, dst, flags)| *dst == 5000 && flags == "0x0002")
                .map(|(src, _, _)| *src)
                .unwrap_or_else(|| panic!("tshark lists our SYN to port 5000: {syns:?}"));
            assert!(
                syns.iter().any(|(src, dst, flags)| *src == 5000
                    && *dst == client_port
                    && flags == "0x0012"),
                "tshark lists the kernel's SYN,ACK back to port {client_port}: {syns:?}"
            );
            // Linux's ephemeral range (LX-18), which synack follows.
            assert!((32768..=60999).contains(&client_port), "{client_port}");
        }
    }
    let _ = std::fs::remove_file(&pcap);
}
