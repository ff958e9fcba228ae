//! RFC 6298 retransmission-timer estimator. STUB
