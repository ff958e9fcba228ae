//! LX-12, tcp_tw_reuse: `connect` taking over a 4-tuple that is in TIME-WAIT (the compact
//! record or a TCB), as Linux's tcp_twsk_unique allows it: timestamps on in the old
//! connection, its last timestamp older than `Config::tw_reuse_delay`, and `Config::tw_reuse`
//! allowing the addresses (loopback only by default). The new connection starts at the old
//! SND.NXT + 65535 + 2 and inherits TS.Recent (RFC 6191, RFC 7323 §5); everything else keeps
//! TIME-WAIT as MUST-13 wants it.

mod harness;
use harness::*;

const LO: &str = "127.0.0.1";
const LO_PEER: &str = "127.0.0.2";

/// The harness on loopback addresses (`TwReuse::Loopback`, the default, applies).
fn lo(config: Config) -> Tcp {
    Tcp::with_addrs(config, LO, LO_PEER)
}

fn with_reuse(mode: TwReuse) -> Config {
    Config {
        tw_reuse: mode,
        ..Tcp::config()
    }
}

/// Active open (the peer's SYN,ACK carries `opts`), then we close first and reach
/// TIME-WAIT: released (`hold` false, so a compact record) or with the handle kept (a
/// TCB). Returns our old SND.NXT and the time of the peer's FIN, the last segment whose
/// timestamp became TS.Recent.
fn active_time_wait(t: &mut Tcp, opts: SynOpts, hold: bool) -> (SeqNum, Instant) {
    let iss = t.establish_active_with(opts);
    let irs = t.peer_isn;
    if hold {
        t.shutdown().unwrap();
    } else {
        t.close().unwrap();
    }
    t.expect(FIN | ACK).seq(iss + 1).ack(irs + 1);
    let fin_at = t.now + dms(20);
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(fin_at);
    t.expect(ACK).seq(iss + 2).ack(irs + 2);
    t.assert_state(State::TimeWait);
    assert_eq!(t.stack.time_wait_records(), usize::from(!hold));
    t.new_events();
    (iss + 2, fin_at)
}

/// Connect again from the same local port to the same peer port.
fn reconnect(t: &mut Tcp) -> Result<ConnId, Error> {
    let r = t.stack.connect(t.now, Some(t.local), t.remote);
    t.flush();
    r
}

/// The peer answers the new SYN (ISS `iss`) with a SYN,ACK from `irs`, Linux options; the
/// handshake completes.
fn complete_handshake(t: &mut Tcp, iss: SeqNum, irs: SeqNum) {
    t.peer_isn = irs;
    t.peer_nxt = irs;
    t.inject(SYN | ACK)
        .seq(irs)
        .ack(iss + 1)
        .opts(SynOpts::linux())
        .win(512);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    t.assert_state(State::Established);
}

#[test]
fn lx_12_tw_reuse_takes_over_a_time_wait_tuple_after_one_second() {
    let mut t = lo(Tcp::config());
    let (snd_nxt, fin_at) = active_time_wait(&mut t, SynOpts::linux(), false);
    let old = t.c();
    // Exactly tw_reuse_delay after the last timestamp: not yet (Linux: strictly later).
    t.run_until(fin_at + dsecs(1));
    assert_eq!(reconnect(&mut t), Err(Error::AddrInUse));
    t.expect_nothing();
    assert_eq!(t.stack.time_wait_records(), 1);
    // A millisecond later the 4-tuple is taken over.
    t.run_until(fin_at + dms(1_001));
    let c = reconnect(&mut t).expect("TIME-WAIT taken over");
    assert_ne!(c, old);
    t.conn = Some(c);
    // The ISN rule: the old SND.NXT + 65535 + 2 (RFC 6191, Linux tcp_twsk_unique).
    let syn = t.expect(SYN).seq(snd_nxt + 65_537).seg();
    assert!(syn.opts().timestamps.is_some());
    // The old incarnation ended, by this cause, and TIME-WAIT is no longer held.
    assert_eq!(t.stack.state(old), None);
    assert_eq!(t.stack.time_wait_records(), 0);
    assert!(t.saw(Event::StateChanged {
        conn: old,
        from: State::TimeWait,
        to: State::Closed,
        cause: Cause::Reused,
    }));
    assert!(t.saw(Event::Closed {
        conn: old,
        reason: CloseReason::Normal,
    }));
    // Counted (TcpExt TWRecycled), not as a 2·MSL expiry.
    let k = t.counters();
    assert_eq!(
        (k.time_wait_reused, k.curr_time_wait, k.time_wait_expired),
        (1, 0, 0)
    );
    assert!(k
        .to_string()
        .contains("1 time wait sockets recycled by time stamp"));
    let irs = t.peer_isn + 3_000_000;
    complete_handshake(&mut t, snd_nxt + 65_537, irs);
    assert_eq!(t.status().local, t.local);
}

#[test]
fn lx_12_tw_reuse_delay_is_a_knob() {
    let mut cfg = Tcp::config();
    cfg.tw_reuse_delay = dms(100);
    let mut t = lo(cfg);
    let (snd_nxt, fin_at) = active_time_wait(&mut t, SynOpts::linux(), false);
    t.run_until(fin_at + dms(50));
    assert_eq!(reconnect(&mut t), Err(Error::AddrInUse));
    // The record keeps TS.Recent's age to 62.5 ms, rounded toward the 2·MSL deadline
    // (later, never earlier): here the FIN came at the start of TIME-WAIT, exactly.
    t.run_until(fin_at + dms(101));
    t.conn = Some(reconnect(&mut t).expect("taken over after 100 ms"));
    t.expect(SYN).seq(snd_nxt + 65_537);
}

#[test]
fn lx_12_tw_reuse_refused_without_timestamps() {
    let mut t = lo(Tcp::config());
    active_time_wait(&mut t, SynOpts::mss(1460), false);
    // Nothing would tell the old connection's segments from the new one's: MUST-13 holds.
    t.advance(dsecs(30));
    assert_eq!(reconnect(&mut t), Err(Error::AddrInUse));
    t.expect_nothing();
    assert_eq!(t.stack.time_wait_records(), 1);
    assert_eq!(t.counters().time_wait_reused, 0);
    // ... until 2·MSL is over.
    t.advance(dsecs(31));
    assert_eq!(t.stack.time_wait_records(), 0);
    t.conn = Some(reconnect(&mut t).expect("free after 2·MSL"));
    t.expect(SYN);
    assert_eq!(t.counters().time_wait_reused, 0);
}

#[test]
fn lx_12_tw_reuse_off_refuses_for_explicit_and_ephemeral_ports() {
    let mut cfg = with_reuse(TwReuse::Off);
    cfg.ephemeral_ports = (CLIENT_PORT, CLIENT_PORT);
    let mut t = lo(cfg);
    active_time_wait(&mut t, SynOpts::linux(), false);
    t.advance(dsecs(5));
    assert_eq!(reconnect(&mut t), Err(Error::AddrInUse));
    assert_eq!(
        t.stack.connect(t.now, None, t.remote),
        Err(Error::NoPortsAvailable)
    );
    t.flush();
    t.expect_nothing();
    assert_eq!(t.stack.time_wait_records(), 1);
    assert_eq!(t.counters().time_wait_reused, 0);
}

#[test]
fn lx_12_tw_reuse_loopback_refuses_other_addresses_and_on_allows_them() {
    // The default (loopback only) between two ordinary addresses: refused.
    let mut t = Tcp::v4();
    active_time_wait(&mut t, SynOpts::linux(), false);
    t.advance(dsecs(5));
    assert_eq!(reconnect(&mut t), Err(Error::AddrInUse));
    assert_eq!(t.counters().time_wait_reused, 0);
    // tcp_tw_reuse = 1: allowed everywhere, IPv4 and IPv6.
    for mut t in [
        Tcp::with_config(with_reuse(TwReuse::On)),
        Tcp::v6_with_config(with_reuse(TwReuse::On)),
    ] {
        let (snd_nxt, _) = active_time_wait(&mut t, SynOpts::linux(), false);
        t.advance(dsecs(5));
        t.conn = Some(reconnect(&mut t).expect("tw_reuse On"));
        t.expect(SYN).seq(snd_nxt + 65_537);
        assert_eq!(t.counters().time_wait_reused, 1);
    }
}

#[test]
fn lx_12_tw_reuse_loopback_means_a_loopback_end_or_a_connection_to_ourselves() {
    for (ours, peer, allowed) in [
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.1", "198.18.0.2", true), // either end, as Linux reads it
        ("::1", "::1", true),
        ("::ffff:127.0.0.1", "2001:db8::2", true),
        ("198.18.0.1", "198.18.0.1", true), // to ourselves: no `lo` to ask
        ("2001:db8::1", "2001:db8::2", false),
        ("198.18.0.1", "198.18.0.2", false),
    ] {
        let mut t = Tcp::with_addrs(Tcp::config(), ours, peer);
        active_time_wait(&mut t, SynOpts::linux(), false);
        t.advance(dsecs(5));
        assert_eq!(reconnect(&mut t).is_ok(), allowed, "{ours} -> {peer}");
        assert_eq!(t.counters().time_wait_reused, u64::from(allowed));
    }
}

#[test]
fn lx_12_tw_reuse_paws_drops_an_old_duplicate_of_the_previous_incarnation() {
    let mut t = lo(Tcp::config());
    let (snd_nxt, fin_at) = active_time_wait(&mut t, SynOpts::linux(), false);
    let old_tsval = PEER_TS_BASE + fin_at.as_millis() as u32; // the old FIN's TSval
    t.run_until(fin_at + dsecs(2));
    t.conn = Some(reconnect(&mut t).unwrap());
    let iss = snd_nxt + 65_537;
    t.expect(SYN).seq(iss);
    let irs = t.peer_isn + 3_000_000;
    complete_handshake(&mut t, iss, irs);
    // A data segment of the old incarnation, delayed in the network, lands in the new
    // window: its TSval is older than the SYN,ACK's, so PAWS drops it (PAWS-1: an ACK).
    let paws_before = t.counters().dropped(DropReason::Paws);
    let at = t.now + dms(10);
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .ts(old_tsval, 0)
        .payload(b"stale")
        .at(at);
    t.expect(ACK).seq(iss + 1).ack(irs + 1).len(0);
    assert_eq!(t.counters().dropped(DropReason::Paws), paws_before + 1);
    assert_eq!(t.recv(100), Err(Error::WouldBlock));
    // The new incarnation's own data is taken.
    t.inject(ACK | PSH)
        .seq(irs + 1)
        .ack(iss + 1)
        .payload(b"fresh");
    t.expect(ACK).ack(irs + 6);
    assert_eq!(t.recv(100).unwrap(), b"fresh");
}

#[test]
fn lx_12_tw_reuse_ephemeral_search_takes_a_reusable_tuple_when_no_port_is_free() {
    let mut cfg = Tcp::config();
    cfg.ephemeral_ports = (CLIENT_PORT, CLIENT_PORT);
    let mut t = lo(cfg);
    let (snd_nxt, fin_at) = active_time_wait(&mut t, SynOpts::linux(), false);
    // The only port's tuple is in TIME-WAIT, not yet reusable: no port.
    t.run_until(fin_at + dms(500));
    assert_eq!(
        t.stack.connect(t.now, None, t.remote),
        Err(Error::NoPortsAvailable)
    );
    // Once it is, the search takes it.
    t.run_until(fin_at + dsecs(2));
    let c = t.stack.connect(t.now, None, t.remote).expect("reused port");
    t.flush();
    t.conn = Some(c);
    assert_eq!(t.status().local, t.local);
    t.expect(SYN).seq(snd_nxt + 65_537);
    assert_eq!(t.counters().time_wait_reused, 1);
    // A second connect finds the port taken by a live connection: nothing to reuse.
    assert_eq!(
        t.stack.connect(t.now, None, t.remote),
        Err(Error::NoPortsAvailable)
    );
}

#[test]
fn lx_12_tw_reuse_takes_over_a_time_wait_tcb_whose_handle_is_held() {
    let mut t = lo(Tcp::config());
    let (snd_nxt, fin_at) = active_time_wait(&mut t, SynOpts::linux(), true);
    let old = t.c();
    t.run_until(fin_at + dsecs(2));
    let c = reconnect(&mut t).expect("TIME-WAIT TCB taken over");
    // The held handle sees its connection end (CLOSED, normally), by this cause.
    assert_eq!(t.stack.state(old), Some(State::Closed));
    assert!(t.saw(Event::StateChanged {
        conn: old,
        from: State::TimeWait,
        to: State::Closed,
        cause: Cause::Reused,
    }));
    t.conn = Some(c);
    t.expect(SYN).seq(snd_nxt + 65_537);
    assert_eq!(t.counters().time_wait_reused, 1);
    assert_eq!(t.counters().curr_time_wait, 0);
    t.stack.close(t.now, old).unwrap();
    assert_eq!(t.stack.state(old), None);
    assert_eq!(t.stack.state(c), Some(State::SynSent));
}
