/// The TCB's size is most of an idle connection's memory (issue 3: <= 512 B per idle
/// connection). It was 768 B, now 544 B; this fails if fields grow it back.
#[test]
fn tcb_stays_compact() {
    assert!(
        std::mem::size_of::<super::Tcb>() <= 544,
        "{}",
        std::mem::size_of::<super::Tcb>()
    );
}
