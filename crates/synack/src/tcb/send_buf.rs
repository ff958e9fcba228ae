//! Send buffer / retransmission queue. STUB
