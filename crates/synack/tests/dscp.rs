//! DiffServ (RFC 9293 §3.9.1.9, RFC 2474): the application sets the DSCP of its
//! connection's segments (MUST-48), may change it while the connection runs (SHLD-21), every
//! segment goes out with the value last set, retransmissions included (SHLD-22), and the DSCP
//! of the last segment received is reported (MAY-9). Listeners pass theirs to their SYN,ACKs
//! and accepted connections, as IP_TOS on a Linux listening socket does.

mod harness;
use harness::*;

const AF41: u8 = 34;
const EF: u8 = 46;

fn dscp(v: u8) -> Dscp {
    Dscp::new(v).expect("six bits")
}

fn config_with_dscp(v: u8) -> Config {
    Config {
        dscp: dscp(v),
        ..Tcp::config()
    }
}

#[test]
fn must_48_segments_carry_the_dscp_the_application_sets() {
    // The stack's default reaches the SYN and the handshake's ACK.
    let mut t = Tcp::with_config(config_with_dscp(AF41));
    t.connect();
    let syn = t.expect(SYN).seg();
    assert_eq!(syn.dscp, dscp(AF41));
    let (iss, irs) = (syn.hdr.seq, t.peer_isn);
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::mss(1460));
    assert_eq!(t.expect(ACK).seq(iss + 1).seg().dscp, dscp(AF41));
    assert_eq!(t.status().dscp, dscp(AF41));
    // Set for this connection: its data from now on.
    let c = t.c();
    t.stack.set_dscp(c, Dscp::EF).unwrap();
    t.send(b"hello").unwrap();
    assert_eq!(t.expect(PSH | ACK).len(5).seg().dscp, Dscp::EF);
    assert_eq!(t.status().dscp, Dscp::EF);
    // A handle that names nothing is refused, as every other call does.
    let gone = ConnId::from_raw(c.index() + 7, 0);
    assert_eq!(t.stack.set_dscp(gone, Dscp::EF), Err(Error::InvalidHandle));
    assert_eq!(Dscp::new(64), None, "six bits");
}

#[test]
fn shld_21_shld_22_a_change_mid_connection_applies_to_retransmissions_and_acks() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    let c = t.c();
    t.send(&[7u8; 100]).unwrap();
    assert_eq!(t.expect(PSH | ACK).len(100).seg().dscp, Dscp::DEFAULT);
    // The segment is lost; the application changes the DSCP before the RTO fires.
    t.stack.set_dscp(c, dscp(AF41)).unwrap();
    let rtx = t.run_until_sent(secs(5));
    assert_eq!((rtx.seq(), rtx.payload.len()), (iss + 1, 100));
    assert_eq!(
        rtx.dscp,
        dscp(AF41),
        "the retransmission carries the current DSCP"
    );
    // A pure ACK of the peer's data, too.
    t.inject(ACK).seq(irs + 1).ack(iss + 101).payload(b"x");
    t.read_all();
    let ack = t.run_until_sent(secs(6));
    assert_eq!((ack.flags(), ack.ack()), (ACK, irs + 2));
    assert_eq!(ack.dscp, dscp(AF41));
    // And the abort's RST.
    t.abort().unwrap();
    let rst = t.expect(RST | ACK).seg();
    assert_eq!(rst.dscp, dscp(AF41));
}

#[test]
fn may_9_the_last_dscp_received_is_reported() {
    let mut t = Tcp::v4();
    let l = t.listen();
    t.stack.set_listener_dscp(l, Dscp::EF).unwrap();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::mss(1460)).dscp(10);
    let synack = t.expect(SYN | ACK).ack(irs + 1).seg();
    assert_eq!(synack.dscp, Dscp::EF, "the listener's DSCP on its SYN,ACK");
    let iss = synack.hdr.seq;
    t.inject(ACK).seq(irs + 1).ack(iss + 1).dscp(12);
    let c = t.accept().expect("accepted");
    t.conn = Some(c);
    let st = t.status();
    assert_eq!((st.dscp, st.dscp_received), (Dscp::EF, Some(dscp(12))));
    t.inject(ACK)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"abc")
        .dscp(AF41);
    assert_eq!(t.status().dscp_received, Some(dscp(AF41)));
    // The accepted connection's own segments carry the listener's DSCP: the ACK of that
    // data (a quick ACK), then data.
    assert_eq!(t.expect(ACK).ack(irs + 4).len(0).seg().dscp, Dscp::EF);
    t.send(b"ok").unwrap();
    assert_eq!(t.expect(PSH | ACK).len(2).seg().dscp, Dscp::EF);
}

#[test]
fn must_48_listener_dscp_reaches_syn_cookie_syn_acks() {
    let mut t = Tcp::with_config(Config {
        syncookies: SynCookies::Always,
        ..Tcp::config()
    });
    let l = t.listen();
    t.stack.set_listener_dscp(l, dscp(AF41)).unwrap();
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::linux());
    let synack = t.expect(SYN | ACK).ack(irs + 1).seg();
    assert_eq!(t.counters().syncookies_sent, 1, "a stateless SYN,ACK");
    assert_eq!(synack.dscp, dscp(AF41));
    let now = t.now;
    t.stack.close_listener(now, l).unwrap();
    assert_eq!(
        t.stack.set_listener_dscp(l, Dscp::EF),
        Err(Error::InvalidHandle),
        "a closed listener"
    );
}

#[test]
fn must_48_a_reset_for_no_connection_carries_the_stack_default() {
    let mut t = Tcp::with_config(config_with_dscp(AF41));
    let irs = t.peer_isn;
    t.inject(SYN).seq(irs).opts(SynOpts::mss(1460)).dscp(EF);
    let rst = t.expect(RST | ACK).ack(irs + 1).seg();
    assert_eq!(rst.dscp, dscp(AF41));
}

#[test]
fn shld_22_time_wait_keeps_a_connection_s_own_dscp() {
    // A connection with its own DSCP stays a TCB in TIME-WAIT (the compact record keeps no
    // DSCP), so its re-ACK of a retransmitted FIN carries that DSCP.
    let mut t = Tcp::v4();
    t.establish_in(State::Established);
    let c = t.c();
    t.stack.set_dscp(c, Dscp::EF).unwrap();
    let (iss, irs) = (t.iss, t.peer_isn);
    t.close().unwrap();
    assert_eq!(t.expect(FIN | ACK).seq(iss + 1).seg().dscp, Dscp::EF);
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(ms(20));
    assert_eq!(t.expect(ACK).ack(irs + 2).seg().dscp, Dscp::EF);
    t.assert_state(State::TimeWait);
    assert_eq!(t.stack.time_wait_records(), 0, "kept as a TCB");
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(secs(5));
    assert_eq!(t.expect(ACK).ack(irs + 2).seg().dscp, Dscp::EF);
    // With the default DSCP the same close ends in a compact record.
    let mut u = Tcp::v4();
    u.establish_in(State::Established);
    let (iss, irs) = (u.iss, u.peer_isn);
    u.close().unwrap();
    u.expect(FIN | ACK).seq(iss + 1);
    u.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    u.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(ms(20));
    u.expect(ACK).ack(irs + 2);
    assert_eq!(u.stack.time_wait_records(), 1);
}

#[test]
fn must_48_ipv6_traffic_class_carries_the_dscp() {
    let mut t = Tcp::v6_with_config(config_with_dscp(EF));
    t.connect();
    let syn = t.expect(SYN).seg();
    assert_eq!(syn.dscp, Dscp::EF);
    // Version nibble 6, then the traffic class byte across the next 8 bits.
    assert_eq!(syn.bytes[0], 0x60 | (EF << 2) >> 4);
    assert_eq!(syn.bytes[1] >> 4, (EF << 2) & 0x0F);
}
