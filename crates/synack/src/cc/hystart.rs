//! HyStart++ (RFC 9406; CUB-5 names it the recommended slow start for CUBIC): leave the
//! initial slow start when the RTT starts to climb, before the bottleneck queue overflows.
//!
//! Slow start doubles the window every round trip until something is lost; with a deep
//! bottleneck queue that first loss comes a whole window too late, and the burst of losses
//! costs an RTO or a long recovery. HyStart++ watches the minimum RTT of each round: once
//! it has risen by a threshold (an eighth of the last round's, clamped to 4..16 ms) it
//! moves to Conservative Slow Start (CSS: a quarter of the growth) and, after five CSS
//! rounds still showing the higher RTT, to congestion avoidance (ssthresh = cwnd). A lower
//! RTT during CSS means the rise was noise: slow start resumes.
//!
//! It runs only in the initial slow start (ssthresh still unset, RFC 9406 §4.3), from the
//! connection (`Tcb::on_new_ack_cc`), which knows the rounds (SND.NXT) and the RTT samples;
//! the controllers only apply the growth it allows and `end_slow_start`. Its state lives in
//! the box of the data in flight (`sack::Scoreboard`), allocated only once cwnd reaches 16
//! segments (Linux's `hystart_low_window`): short connections never pay for it.

use crate::seq::SeqNum;

/// RFC 9406 §4.3 constants (non-paced sender).
const MIN_RTT_THRESH_US: u32 = 4_000;
const MAX_RTT_THRESH_US: u32 = 16_000;
const MIN_RTT_DIVISOR: u32 = 8;
const N_RTT_SAMPLE: u8 = 8;
const CSS_GROWTH_DIVISOR: u32 = 4;
const CSS_ROUNDS: u8 = 5;
/// cwnd (segments) below which HyStart++ does not run (Linux tcp_cubic hystart_low_window).
pub const LOW_WINDOW: u32 = 16;

const NONE: u32 = u32::MAX;

/// What HyStart++ says about one ACK in slow start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// Bytes the window may grow by (slow start's `min(N, SMSS)`, a quarter of it in CSS).
    pub growth: u32,
    /// Slow start is over: enter congestion avoidance (ssthresh = cwnd).
    pub exit: bool,
}

/// HyStart++'s state through the initial slow start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HyStart {
    /// windowEnd: the round ends when SND.UNA passes it.
    window_end: SeqNum,
    last_round_min: u32,
    current_round_min: u32,
    samples: u8,
    /// cssBaselineMinRtt while in CSS, `NONE` in slow start.
    css_baseline: u32,
    css_rounds: u8,
}

impl HyStart {
    /// Start watching at SND.NXT `nxt` (the first round ends when it is acknowledged).
    pub fn new(nxt: SeqNum) -> HyStart {
        HyStart {
            window_end: nxt,
            last_round_min: NONE,
            current_round_min: NONE,
            samples: 0,
            css_baseline: NONE,
            css_rounds: 0,
        }
    }

    pub fn in_css(&self) -> bool {
        self.css_baseline != NONE
    }

    /// One ACK in slow start (RFC 9406 §4.2): `acked` bytes newly acknowledged, SND.UNA after
    /// it `una`, SND.NXT `nxt`, its RTT sample in µs if it gave one.
    pub fn on_ack(
        &mut self,
        acked: u32,
        mss: u32,
        una: SeqNum,
        nxt: SeqNum,
        rtt: Option<u32>,
    ) -> Step {
        if una.ge(self.window_end) {
            // A new round.
            self.last_round_min = self.current_round_min;
            self.current_round_min = NONE;
            self.samples = 0;
            self.window_end = nxt;
            if self.in_css() {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    return Step {
                        growth: 0,
                        exit: true,
                    };
                }
            }
        }
        // The ACK grows cwnd at the rate of the phase it arrives in; its RTT sample may then
        // change the phase for the next (RFC 9406 §4.2's order).
        let growth = if self.in_css() {
            acked.min(mss) / CSS_GROWTH_DIVISOR
        } else {
            acked.min(mss)
        };
        if let Some(r) = rtt {
            self.current_round_min = self.current_round_min.min(r);
            self.samples = self.samples.saturating_add(1);
        }
        let enough = self.samples >= N_RTT_SAMPLE
            && self.current_round_min != NONE
            && self.last_round_min != NONE;
        if !self.in_css() {
            if enough {
                let thresh = (self.last_round_min / MIN_RTT_DIVISOR)
                    .clamp(MIN_RTT_THRESH_US, MAX_RTT_THRESH_US);
                if self.current_round_min >= self.last_round_min.saturating_add(thresh) {
                    self.css_baseline = self.current_round_min;
                    self.css_rounds = 0;
                }
            }
        } else if enough && self.current_round_min < self.css_baseline {
            // The RTT came back down: the increase was spurious; slow start again.
            self.css_baseline = NONE;
            self.css_rounds = 0;
        }
        Step {
            growth,
            exit: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// One round of `acks` ACKs of 2 segments each, all with RTT `rtt` µs: its first ACK
    /// starts the round, with SND.NXT just past this round's last ACK. Returns the total
    /// growth and whether an ACK said exit.
    fn round(h: &mut HyStart, una: &mut u32, acks: u32, rtt: u32) -> (u32, bool) {
        let end = *una + acks * 2 * MSS;
        let mut growth = 0;
        for _ in 0..acks {
            *una += 2 * MSS;
            let s = h.on_ack(2 * MSS, MSS, SeqNum(*una), SeqNum(end + 1), Some(rtt));
            growth += s.growth;
            if s.exit {
                return (growth, true);
            }
        }
        (growth, false)
    }

    #[test]
    fn cub_5_hystart_slow_start_grows_one_smss_per_ack_while_the_rtt_holds() {
        let mut h = HyStart::new(SeqNum(0));
        let mut una = 0;
        for _ in 0..6 {
            let (g, exit) = round(&mut h, &mut una, 10, 20_000);
            assert_eq!((g, exit), (10 * MSS, false));
            assert!(!h.in_css());
        }
    }

    #[test]
    fn cub_5_hystart_rtt_rise_enters_css_then_congestion_avoidance_after_five_rounds() {
        let mut h = HyStart::new(SeqNum(0));
        let mut una = 0;
        round(&mut h, &mut una, 10, 20_000);
        round(&mut h, &mut una, 10, 20_000);
        // 20 ms / 8 = 2.5 ms, clamped up to 4 ms: 23 ms is not enough, 24 ms is.
        round(&mut h, &mut una, 10, 23_000);
        assert!(!h.in_css());
        let (g, _) = round(&mut h, &mut una, 10, 28_000);
        assert!(h.in_css());
        // The first 8 samples grew at full rate, the last two at a quarter.
        assert_eq!(g, 8 * MSS + 2 * MSS / 4);
        let mut exits = 0;
        let mut rounds = 0;
        while exits == 0 {
            let (g, exit) = round(&mut h, &mut una, 10, 28_000);
            rounds += 1;
            if exit {
                exits += 1;
            } else {
                assert_eq!(g, 10 * MSS / 4, "CSS: a quarter of slow start's growth");
            }
        }
        assert_eq!(rounds, 5, "CSS_ROUNDS");
    }

    #[test]
    fn cub_5_hystart_a_lower_rtt_in_css_resumes_slow_start() {
        let mut h = HyStart::new(SeqNum(0));
        let mut una = 0;
        round(&mut h, &mut una, 10, 20_000);
        round(&mut h, &mut una, 10, 30_000);
        assert!(h.in_css());
        round(&mut h, &mut una, 10, 25_000);
        assert!(
            !h.in_css(),
            "25 ms < the 30 ms baseline: the rise was spurious"
        );
        let (g, exit) = round(&mut h, &mut una, 10, 25_000);
        assert_eq!((g, exit), (10 * MSS, false));
    }

    #[test]
    fn cub_5_hystart_needs_eight_samples_and_a_previous_round() {
        let mut h = HyStart::new(SeqNum(0));
        let mut una = 0;
        // The first round has no previous one to compare with, however high its RTT.
        round(&mut h, &mut una, 10, 90_000);
        assert!(!h.in_css());
        // Seven samples of a higher RTT are not enough.
        round(&mut h, &mut una, 10, 20_000);
        round(&mut h, &mut una, 7, 40_000);
        assert!(!h.in_css());
        // The threshold is at most 16 ms: 160 ms / 8 = 20 ms is clamped.
        let mut h = HyStart::new(SeqNum(0));
        let mut una = 0;
        round(&mut h, &mut una, 10, 160_000);
        round(&mut h, &mut una, 10, 176_000);
        assert!(h.in_css());
    }
}
