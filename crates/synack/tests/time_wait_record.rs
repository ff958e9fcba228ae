//! The compact TIME-WAIT record (issue 3): an orphaned connection in TIME-WAIT is kept as a
//! small record, not a full TCB, and must still do everything TIME-WAIT does (MUST-13,
//! EP-22, TW-1..TW-3, LX-7, LX-16, RFC 6191). Each test closes the handle (orphan) so the
//! record is what answers; the same rules for a held handle are in close.rs and misc.rs.

mod harness;
use harness::*;

/// Reach TIME-WAIT (we closed first) and release the handle: the stack keeps a record.
fn orphan_time_wait(t: &mut Tcp) {
    t.establish_in(State::TimeWait);
    t.close().unwrap();
    t.expect_nothing();
    assert_eq!(t.stack.time_wait_records(), 1, "kept as a compact record");
    t.assert_state(State::TimeWait);
    assert_eq!(t.counters().curr_time_wait, 1);
}

#[test]
fn must_13_record_re_acks_a_retransmitted_fin_and_restarts_2msl() {
    let mut t = Tcp::v4();
    orphan_time_wait(&mut t);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    t.inject(FIN | ACK)
        .seq(rcv_nxt - 1)
        .ack(snd_nxt)
        .at(secs(30));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt).at(secs(30));
    assert_eq!(
        t.stack.time_wait_records(),
        1,
        "compact again once the ACK is out"
    );
    // 2MSL counts from the re-ACK: still here at 89 s, gone at 90 s.
    t.run_until(secs(89));
    t.assert_state(State::TimeWait);
    t.run_until(secs(90));
    t.assert_gone(); // an orphan: forgotten once CLOSED
    assert_eq!(t.stack.time_wait_records(), 0);
    assert_eq!(t.counters().time_wait_expired, 1);
    assert_eq!(t.counters().curr_time_wait, 0);
}

#[test]
fn must_13_record_re_acks_with_timestamps() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive_with(SynOpts::linux());
    let irs = t.peer_isn;
    t.close().unwrap();
    t.expect(FIN | ACK).seq(iss + 1);
    t.inject(ACK).seq(irs + 1).ack(iss + 2).at(ms(10));
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(ms(20));
    let first = t.expect(ACK).seq(iss + 2).ack(irs + 2).seg();
    t.assert_state(State::TimeWait);
    assert_eq!(t.stack.time_wait_records(), 1);
    // The FIN again, 5 s later: the record answers with TSecr = TS.Recent and our TS clock
    // (same offset, 5 s further on).
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 2).at(ms(5_020));
    let again = t.expect(ACK).seq(iss + 2).ack(irs + 2).seg();
    let (a, b) = (
        first
            .opts()
            .timestamps
            .expect("timestamps on the first ACK"),
        again.opts().timestamps.expect("timestamps on the re-ACK"),
    );
    assert_eq!(b.tsval.wrapping_sub(a.tsval), 5_000);
    assert!(b.tsecr >= a.tsecr);
    assert_eq!(t.counters().time_wait_expired, 0);
}

#[test]
fn tw_2_lx_16_record_applies_the_rst_policy() {
    // RFC 1337 on (the default): a RST at RCV.NXT is ignored, the record stays.
    let mut t = Tcp::v4();
    orphan_time_wait(&mut t);
    let (_, rcv_nxt) = t.nxt_in(State::TimeWait);
    t.inject(RST).seq(rcv_nxt).at(secs(1));
    t.expect_nothing();
    t.assert_state(State::TimeWait);
    assert_eq!(t.stack.time_wait_records(), 1);
    // RFC 1337 off (LX-16): the same RST ends TIME-WAIT at once.
    let mut cfg = Tcp::config();
    cfg.rfc1337 = false;
    let mut t = Tcp::with_config(cfg);
    orphan_time_wait(&mut t);
    let (_, rcv_nxt) = t.nxt_in(State::TimeWait);
    t.inject(RST).seq(rcv_nxt).at(secs(1));
    t.expect_nothing();
    t.assert_gone();
    let conn = t.c();
    assert!(t.saw(Event::StateChanged {
        conn,
        from: State::TimeWait,
        to: State::Closed,
        cause: Cause::RecvRst,
    }));
    assert_eq!(t.stack.time_wait_records(), 0);
    assert_eq!(t.stack.connection_count(), 0);
}

#[test]
fn tw_3_record_lets_a_newer_syn_reopen() {
    // LX-12: tcp_tw_reuse is for connect; a server's TIME-WAIT meets a SYN exactly as
    // without it, even with reuse on everywhere, and nothing counts as reuse.
    for reuse in [TwReuse::Loopback, TwReuse::On] {
        let mut t = Tcp::with_config(Config {
            tw_reuse: reuse,
            ..Tcp::config()
        });
        tw_3_reopen(&mut t);
        assert_eq!(t.counters().time_wait_reused, 0);
    }
}

fn tw_3_reopen(t: &mut Tcp) {
    orphan_time_wait(t);
    let (snd_nxt, rcv_nxt) = t.nxt_in(State::TimeWait);
    let old = t.c();
    // An old SYN does not reopen: answered with an ACK, TIME-WAIT stays.
    t.inject(SYN).seq(rcv_nxt - 10).mss(1460).at(secs(5));
    t.expect(ACK).seq(snd_nxt).ack(rcv_nxt);
    t.assert_state(State::TimeWait);
    // RFC 6191: a SYN above the old RCV.NXT reopens the 4-tuple through the listener.
    let new_isn = rcv_nxt + 100_000;
    t.inject(SYN).seq(new_isn).mss(1460).at(secs(10));
    let synack = t.expect(SYN | ACK).ack(new_isn + 1).seg();
    assert!(synack.seq().gt(snd_nxt), "{}", synack);
    assert_eq!(t.stack.state(old), None);
    assert_eq!(t.stack.time_wait_records(), 0);
    t.inject(ACK).seq(new_isn + 1).ack(synack.seq() + 1);
    let c = t.accept().unwrap();
    assert_ne!(c, old);
    assert_eq!(t.stack.state(c), Some(State::Established));
}

#[test]
fn must_13_record_expires_at_2msl_with_events_and_views() {
    let mut t = Tcp::v4();
    orphan_time_wait(&mut t);
    let conn = t.c();
    // Views still show the entry, as TIME-WAIT (ss-style table, STATUS).
    let all = t.stack.connections();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].id, all[0].state), (conn, State::TimeWait));
    assert_eq!(t.stack.status(conn).map(|i| i.state), Some(State::TimeWait));
    assert!(t.stack.poll_timeout().is_some());
    t.run_until(secs(70));
    t.assert_gone();
    assert!(t.saw(Event::StateChanged {
        conn,
        from: State::TimeWait,
        to: State::Closed,
        cause: Cause::Timer(TimerKind::TimeWait),
    }));
    assert!(t.saw(Event::Closed {
        conn,
        reason: CloseReason::Normal
    }));
    assert_eq!(t.counters().time_wait_expired, 1);
    assert!(t.stack.connections().is_empty());
    assert_eq!(t.stack.time_wait_records(), 0);
    t.expect_nothing();
}

#[test]
fn must_13_record_outlives_its_slot_and_keeps_its_handle_in_events() {
    let mut t = Tcp::v4();
    orphan_time_wait(&mut t);
    let old = t.c();
    // The record freed the connection's slot; a new connection takes it.
    let remote = "198.18.7.7:443".parse().unwrap();
    let other = t.stack.connect(t.now, None, remote).unwrap();
    assert_ne!(other, old);
    assert_eq!(t.stack.state(other), Some(State::SynSent));
    assert_eq!(t.stack.connection_count(), 2);
    // The released handle no longer reaches the record through its slot, but the table
    // still lists it, and the 4-tuple is still in use.
    assert_eq!(t.stack.state(old), None);
    let views: Vec<_> = t.stack.connections().iter().map(|i| i.state).collect();
    assert!(views.contains(&State::TimeWait) && views.contains(&State::SynSent));
    // Expiry still reports the original handle.
    t.run_until(secs(70));
    assert!(t.saw(Event::Closed {
        conn: old,
        reason: CloseReason::Normal
    }));
    assert_eq!(t.stack.time_wait_records(), 0);
    assert_eq!(t.counters().time_wait_expired, 1);
}

#[test]
fn must_13_record_expiry_reports_exactly_what_a_tcb_expiry_does() {
    // The record ends without a TCB being rebuilt for it (issue 3): what the application and
    // the counters see must be what the same connection held as a TCB (handle kept) shows.
    let mut held = Tcp::v4();
    held.establish_in(State::TimeWait);
    held.new_events();
    let mut rec = Tcp::v4();
    orphan_time_wait(&mut rec);
    rec.new_events();
    assert_eq!(
        held.stack.time_wait_records(),
        0,
        "the held one stays a TCB"
    );
    held.run_until(secs(70));
    rec.run_until(secs(70));
    let (h, r) = (held.new_events(), rec.new_events());
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h, r);
    assert_eq!(held.counters(), rec.counters());
    assert_eq!(rec.counters().curr_time_wait, 0);
    assert_eq!(rec.counters().time_wait_expired, 1);
}
