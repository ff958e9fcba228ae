//! Receive buffer with out-of-order reassembly. STUB
