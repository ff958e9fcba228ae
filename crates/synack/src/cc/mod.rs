//! Congestion control behind one interface (checklist CC-*, CUB-*; decision 6): how the
//! congestion window grows on ACKs and shrinks on loss. Loss *detection* and recovery
//! (duplicate ACKs, SACK, RTO) live in the connection; it tells the controller what happened.
//!
//! The controllers are an enum, not trait objects: no allocation per connection and the
//! call is a match, so a connection stays small and allocation-free in steady state.
//! All quantities are bytes (CC-15).

use crate::time::{Duration, Instant};

mod cubic;
mod newreno;

pub use cubic::Cubic;
pub use newreno::NewReno;

/// Which algorithm a connection uses (`Config::congestion_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// RFC 5681 / RFC 6582 window growth.
    NewReno,
    /// RFC 9438, the default (Linux's default too).
    #[default]
    Cubic,
}

/// What every controller answers and reacts to.
pub trait CongestionControl {
    /// Congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// Slow-start threshold, bytes.
    fn ssthresh(&self) -> u32;
    /// New data was cumulatively acknowledged outside loss recovery: grow (CC-4 slow start,
    /// CC-5 / CUB-3 congestion avoidance). `acked` bytes newly acknowledged; `flight` bytes
    /// outstanding before this ACK; `srtt` the smoothed RTT if known.
    fn on_ack(&mut self, now: Instant, acked: u32, flight: u32, srtt: Option<Duration>);
    /// Loss detected by duplicate ACKs or SACK (entering fast recovery): a congestion event.
    /// Sets ssthresh and cwnd (CC-9 (1), CUB-2); `flight` is FlightSize.
    fn on_congestion_event(&mut self, now: Instant, flight: u32);
    /// Fast recovery ended (the ACK reached the recovery point): cwnd = ssthresh (CC-9 (5), CC-12).
    fn on_recovery_end(&mut self, now: Instant);
    /// Retransmission timeout (CC-6, CUB-5): ssthresh from the flight (only on the first
    /// timeout of an episode: `first`), cwnd to one segment.
    fn on_rto(&mut self, now: Instant, flight: u32, first: bool);
    /// After idling longer than an RTO (CC-13): cwnd = min(cwnd, `restart`).
    fn on_idle_restart(&mut self, now: Instant, restart: u32);
    /// Set cwnd directly (NewReno's fast-recovery inflation and partial-ACK deflation,
    /// CC-9 (3)/(4), CC-11, are driven by the connection).
    fn set_cwnd(&mut self, cwnd: u32);
}

/// A connection's controller.
#[derive(Clone, Debug)]
pub enum Controller {
    NewReno(NewReno),
    Cubic(Cubic),
}

impl Controller {
    /// A controller for a connection with send MSS `mss` and initial window `iw` bytes.
    pub fn new(alg: Algorithm, mss: u32, iw: u32) -> Controller {
        match alg {
            Algorithm::NewReno => Controller::NewReno(NewReno::new(mss, iw)),
            Algorithm::Cubic => Controller::Cubic(Cubic::new(mss, iw)),
        }
    }
    fn inner(&self) -> &dyn CongestionControl {
        match self {
            Controller::NewReno(c) => c,
            Controller::Cubic(c) => c,
        }
    }
    fn inner_mut(&mut self) -> &mut dyn CongestionControl {
        match self {
            Controller::NewReno(c) => c,
            Controller::Cubic(c) => c,
        }
    }
}

impl CongestionControl for Controller {
    fn cwnd(&self) -> u32 {
        self.inner().cwnd()
    }
    fn ssthresh(&self) -> u32 {
        self.inner().ssthresh()
    }
    fn on_ack(&mut self, now: Instant, acked: u32, flight: u32, srtt: Option<Duration>) {
        self.inner_mut().on_ack(now, acked, flight, srtt)
    }
    fn on_congestion_event(&mut self, now: Instant, flight: u32) {
        self.inner_mut().on_congestion_event(now, flight)
    }
    fn on_recovery_end(&mut self, now: Instant) {
        self.inner_mut().on_recovery_end(now)
    }
    fn on_rto(&mut self, now: Instant, flight: u32, first: bool) {
        self.inner_mut().on_rto(now, flight, first)
    }
    fn on_idle_restart(&mut self, now: Instant, restart: u32) {
        self.inner_mut().on_idle_restart(now, restart)
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.inner_mut().set_cwnd(cwnd)
    }
}
