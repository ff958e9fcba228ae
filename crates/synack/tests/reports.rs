//! What the stack tells the application besides data: urgent data (MUST-30..33, EP-20),
//! soft errors after R1 retransmissions (MUST-20a, MUST-47, SHLD-9, SHLD-10, SHLD-20), and
//! the per-connection user timeout (MUST-21).

mod harness;
use harness::*;

fn urgent_events(t: &mut Tcp) -> usize {
    t.new_events()
        .iter()
        .filter(|e| matches!(e, Event::Urgent { .. }))
        .count()
}

#[test]
fn must_30_urgent_pointer_signalled_and_counted() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.new_events();
    // MUST-62: the pointer names the byte after the urgent data: "ab" of "abcd" is urgent.
    t.inject(ACK | PSH | URG)
        .seq(irs + 1)
        .ack(iss + 1)
        .urgent(2)
        .payload(b"abcd");
    assert_eq!(
        urgent_events(&mut t),
        1,
        "MUST-32: told when urgent data appears"
    );
    assert_eq!(
        t.stack.urgent_pending(t.c()),
        2,
        "MUST-33: how much is urgent"
    );
    // The urgent bytes arrive inline, in order (decision 7).
    assert_eq!(t.recv(1).unwrap(), b"a");
    assert_eq!(t.stack.urgent_pending(t.c()), 1);
    assert_eq!(t.recv(10).unwrap(), b"bcd");
    assert_eq!(t.stack.urgent_pending(t.c()), 0);
}

#[test]
fn must_32_urgent_signalled_again_only_when_the_pointer_advances() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.new_events();
    t.inject(ACK | URG)
        .seq(irs + 1)
        .ack(iss + 1)
        .urgent(3)
        .payload(b"xyz");
    assert_eq!(urgent_events(&mut t), 1);
    // The same pointer again (a later segment pointing back at it): no new signal, and the
    // pointer never moves back (URG-1).
    t.inject(ACK | URG)
        .seq(irs + 4)
        .ack(iss + 1)
        .urgent(0)
        .payload(b"u");
    assert_eq!(urgent_events(&mut t), 0);
    // MUST-31: any length; the pointer advances by 100 bytes: a new signal.
    t.inject(ACK | URG)
        .seq(irs + 5)
        .ack(iss + 1)
        .urgent(100)
        .len(100);
    assert_eq!(urgent_events(&mut t), 1);
    assert_eq!(t.stack.urgent_pending(t.c()), 104);
}

#[test]
fn ep_20_urg_ignored_after_the_peers_fin() {
    let mut t = Tcp::v4();
    let iss = t.establish_passive();
    let irs = t.peer_isn;
    t.inject(FIN | ACK).seq(irs + 1).ack(iss + 1);
    t.assert_state(State::CloseWait);
    t.new_events();
    t.inject(ACK | URG).seq(irs + 2).ack(iss + 1).urgent(5);
    assert_eq!(urgent_events(&mut t), 0);
    assert_eq!(t.stack.urgent_pending(t.c()), 0);
}

fn soft_errors(t: &mut Tcp) -> Vec<Instant> {
    let now = t.now;
    t.new_events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::SoftError {
                    error: SoftError::ExcessiveRetransmission,
                    ..
                }
            )
        })
        .map(|_| now)
        .collect()
}

#[test]
fn must_20a_r1_retransmissions_reported_as_soft_error() {
    let mut t = Tcp::v4();
    t.establish_passive();
    t.new_events();
    t.take_sent();
    t.send(b"never acked").unwrap();
    // MUST-47: an asynchronous soft-error report reaches the application.
    // Step through time: the report comes with the third retransmission (R1 = 3, SHLD-10),
    // not before, and the connection lives on (a soft error never aborts).
    let mut transmissions = 0;
    let mut reported_at = None;
    for step in 1..=4000u64 {
        t.run_until(ms(step * 10));
        transmissions += t
            .take_sent()
            .iter()
            .filter(|s| s.payload.as_slice() == b"never acked")
            .count();
        if !soft_errors(&mut t).is_empty() {
            reported_at = Some(transmissions - 1); // retransmissions so far
            break;
        }
    }
    assert_eq!(reported_at, Some(3), "SHLD-9: told exactly at R1");
    t.assert_state(State::Established);
    t.run_until(secs(60));
    assert!(soft_errors(&mut t).is_empty(), "reported once per episode");
}

#[test]
fn shld_20_soft_errors_can_be_switched_off() {
    let mut cfg = Tcp::config();
    cfg.soft_errors = false;
    let mut t = Tcp::with_config(cfg);
    t.establish_passive();
    t.send(b"never acked").unwrap();
    t.run_until(secs(40));
    assert!(soft_errors(&mut t).is_empty());
}

#[test]
fn must_21_user_timeout_per_connection() {
    let mut t = Tcp::v4();
    t.establish_passive();
    let c = t.c();
    let now = t.now;
    t.stack.set_user_timeout(now, c, Some(dsecs(5))).unwrap();
    t.send(b"lost").unwrap();
    t.run_until(ms(4_999));
    t.assert_state(State::Established);
    t.run_until(secs(5));
    t.assert_state(State::Closed);
    assert_eq!(t.close_reason(), Some(CloseReason::TimedOut));
    // "Infinite": no user timeout, so the retry count (R2) decides, far later.
    let mut cfg = Tcp::config();
    cfg.user_timeout = Some(dsecs(5));
    let mut t = Tcp::with_config(cfg);
    t.establish_passive();
    let c = t.c();
    let now = t.now;
    t.stack.set_user_timeout(now, c, None).unwrap();
    t.send(b"lost").unwrap();
    t.run_until(secs(60));
    t.assert_state(State::Established);
}
