//! `Stack::listeners()`: the read-only view an `ss -ltn`-like table is built from (each
//! listener's address, backlog and the lengths of its two queues).
mod harness;
use harness::*;
use std::net::SocketAddr;

#[test]
fn listeners_report_address_backlog_and_both_queues() {
    let mut t = Tcp::with_config(Config {
        somaxconn: 100,
        ..Tcp::config()
    });
    assert!(t.stack.listeners().is_empty());
    let local = t.local;
    let l = t.stack.listen(local, 8).unwrap();
    t.listener = Some(l);
    // A wildcard listener on another port, with a backlog above somaxconn: capped like Linux.
    let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let l2 = t.stack.listen(any, 1000).unwrap();

    // One client finishes its handshake (accept queue), another stays half-open (SYN queue).
    t.inject(SYN).src_port(40001).seq(100u32).mss(1460);
    let iss = t.expect(SYN | ACK).ack(101u32).seq_any();
    t.inject(ACK).src_port(40001).seq(101u32).ack(iss + 1);
    t.inject(SYN).src_port(40002).seq(500u32).mss(1460);
    t.expect(SYN | ACK).ack(501u32).seq_any();

    let ls = t.stack.listeners();
    assert_eq!(ls.len(), 2);
    assert_eq!(
        ls[0],
        synack::ListenerInfo {
            id: l,
            local,
            backlog: 8,
            accept_queue: 1,
            syn_queue: 1,
            dscp: synack::Dscp::DEFAULT,
        }
    );
    assert_eq!((ls[1].id, ls[1].local, ls[1].backlog), (l2, any, 100));
    assert_eq!((ls[1].accept_queue, ls[1].syn_queue), (0, 0));

    // Accepting empties the accept queue; a closed listener is no longer listed.
    t.accept().unwrap();
    t.stack.close_listener(t.now, l2).unwrap();
    let ls = t.stack.listeners();
    assert_eq!(ls.len(), 1);
    assert_eq!((ls[0].accept_queue, ls[0].syn_queue), (0, 1));
}
