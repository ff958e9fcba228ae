//! The user calls on an existing connection (RFC 9293 §3.10.2-5): SEND, RECEIVE, CLOSE
//! (`shutdown` for the write side, `close` to also release the handle) and ABORT.

use super::{Ctx, Tcb};
use crate::error::Error;
use crate::event::{Cause, CloseReason};
use crate::state::State;

impl Tcb {
    fn closed_error(&self) -> Error {
        Error::Closed(self.close_reason.unwrap_or(CloseReason::Reset))
    }

    /// SEND (UI-2): queue in SYN-SENT / SYN-RECEIVED, send in ESTABLISHED / CLOSE-WAIT.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        match self.state {
            State::Closed => Err(self.closed_error()),
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.fin_queued =>
            {
                let n = self.send_buf.push(data);
                if n < data.len() {
                    self.flags.set_want_writable(true);
                }
                if n == 0 && !data.is_empty() {
                    Err(Error::WouldBlock)
                } else {
                    Ok(n)
                }
            }
            _ => Err(Error::Closing),
        }
    }

    /// RECEIVE (UI-3). Data received on a SYN is only handed over after ESTABLISHED (ST-6).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if self.state.is_synchronized() || self.state == State::Closed {
            if self.recv_buf.readable() > 0 {
                let n = self.recv_buf.read(buf);
                let unread_start = self.recv_buf.next() - self.recv_buf.readable() as u64;
                if self.rcv_up().is_some_and(|up| up <= unread_start) {
                    // Every urgent byte has been read: forget the pointer, which is kept
                    // in 32 bits and must not be compared once the stream has moved 2^31
                    // past it (issue 3).
                    self.set_rcv_up(None);
                }
                if self.window_update_due() {
                    self.ack_now = true;
                }
                return Ok(n);
            }
            if self.fin_received {
                return Ok(0);
            }
        }
        if self.state == State::Closed {
            return Err(self.closed_error());
        }
        Err(Error::WouldBlock)
    }

    /// CLOSE of the write side (ST-10): FIN after the queued data; receiving continues.
    pub fn shutdown(&mut self, ctx: &mut Ctx) -> Result<(), Error> {
        match self.state {
            State::Closed => Err(self.closed_error()),
            State::SynSent => {
                // ST-10: CLOSE in SYN-SENT deletes the TCB.
                self.terminate(ctx, CloseReason::Aborted, Cause::Close);
                Ok(())
            }
            State::SynReceived => {
                // ST-10: FIN now if nothing is queued (FIN-WAIT-1; the SYN,ACK is still
                // retransmitted until acknowledged), else once ESTABLISHED (input.rs step 5).
                self.fin_queued = true;
                if self.send_buf.is_empty() {
                    self.set_state(ctx, State::FinWait1, Cause::Close);
                }
                Ok(())
            }
            State::Established => {
                self.fin_queued = true;
                self.set_state(ctx, State::FinWait1, Cause::Close);
                Ok(())
            }
            State::CloseWait => {
                self.fin_queued = true;
                self.set_state(ctx, State::LastAck, Cause::Close);
                Ok(())
            }
            // Never a second FIN (ST-10): FIN-WAIT-1/2 answer "ok", later states
            // "connection closing".
            State::FinWait1 | State::FinWait2 => Ok(()),
            _ => Err(Error::Closing),
        }
    }

    /// CLOSE and release the handle. Unread received data turns the close into a RST
    /// (SHLD-3, LX-18), as Linux does.
    pub fn close(&mut self, ctx: &mut Ctx) -> Result<(), Error> {
        if self.state == State::Closed {
            self.orphan = true;
            return Ok(());
        }
        if self.recv_buf.readable() > 0 && self.state != State::SynSent {
            ctx.counters.abort_on_close += 1;
            return self.abort(ctx);
        }
        match self.shutdown(ctx) {
            Ok(()) | Err(Error::Closing) => {} // close() releases the handle regardless
            Err(e) => return Err(e),
        }
        self.orphan = true;
        self.arm_fin_wait_2(ctx);
        Ok(())
    }

    /// ABORT (UI-5): RST where the peer holds state, then CLOSED; the handle is released.
    pub fn abort(&mut self, ctx: &mut Ctx) -> Result<(), Error> {
        self.orphan = true;
        match self.state {
            State::Closed => return Ok(()),
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => self.send_rst(ctx),
            _ => {}
        }
        self.clear_timers();
        self.terminate(ctx, CloseReason::Aborted, Cause::Abort);
        Ok(())
    }
}
