#[test]
fn print_sizes() {
    use std::mem::size_of;
    eprintln!("Tcb {}", size_of::<super::Tcb>());
    eprintln!("SendBuf {}", size_of::<super::SendBuf>());
    eprintln!("RecvBuf {}", size_of::<super::RecvBuf>());
    eprintln!("Rtt {}", size_of::<super::RttEstimator>());
    eprintln!("Cc {}", size_of::<crate::cc::Controller>());
}
