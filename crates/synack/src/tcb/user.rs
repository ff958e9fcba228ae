//! The user calls on an existing connection (RFC 9293 §3.10.2-5): SEND, RECEIVE, CLOSE
//! (`shutdown` for the write side, `close` to also release the handle) and ABORT.

use super::recv_buf::RecvBuf;
use super::ring_pool::RingPool;
use super::{Ctx, Tcb};
use crate::error::Error;
use crate::event::{Cause, CloseReason};
use crate::state::State;

impl Tcb {
    fn closed_error(&self) -> Error {
        Error::Closed(self.close_reason.unwrap_or(CloseReason::Reset))
    }

    /// SEND (UI-2): queue in SYN-SENT / SYN-RECEIVED, send in ESTABLISHED / CLOSE-WAIT.
    /// A first ring comes from the stack's `rings`, as in every call below.
    pub fn send(&mut self, data: &[u8], rings: &mut RingPool) -> Result<usize, Error> {
        self.check_sendable()?;
        let n = self.send_buf.push_pooled(data, rings);
        if n < data.len() {
            // Refused bytes: report Writable once an ACK frees room (input.rs).
            self.flags.set_want_writable(true);
        }
        if n == 0 && !data.is_empty() {
            Err(Error::WouldBlock)
        } else {
            Ok(n)
        }
    }

    /// SEND in place: `f` writes into the send buffer's free contiguous space and says how
    /// many bytes it wrote (see [`SendBuf::write_with`]); the same states and errors as
    /// [`Tcb::send`], and WouldBlock (without calling `f`) when the buffer is full.
    ///
    /// [`SendBuf::write_with`]: super::send_buf::SendBuf::write_with
    pub fn send_with<R>(
        &mut self,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
        rings: &mut RingPool,
    ) -> Result<R, Error> {
        self.check_sendable()?;
        if self.send_buf.free() == 0 {
            self.flags.set_want_writable(true);
            return Err(Error::WouldBlock);
        }
        let (_, r) = self.send_buf.write_with_pooled(f, rings);
        if self.send_buf.free() == 0 {
            // The application filled the buffer: unlike `send` we cannot tell whether it had
            // more, so assume it did and report Writable when room returns.
            self.flags.set_want_writable(true);
        }
        Ok(r)
    }

    /// Whether SEND may queue data now (UI-2, ST-10: nothing after our FIN).
    fn check_sendable(&self) -> Result<(), Error> {
        match self.state {
            State::Closed => Err(self.closed_error()),
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
                if !self.fin_queued =>
            {
                Ok(())
            }
            _ => Err(Error::Closing),
        }
    }

    /// RECEIVE (UI-3) into `buf`: Ok(0) at end of stream (and for an empty `buf`).
    /// Inlined into `Stack::recv`, its one caller: called out of line it handed its
    /// `Result` back through memory in byte-sized stores that the caller then read back
    /// in wider loads, a store-forwarding stall of ~2% of issue 3's churn (perf).
    #[inline(always)]
    pub fn recv(&mut self, buf: &mut [u8], rings: &mut RingPool) -> Result<usize, Error> {
        self.receive(|b| b.read_pooled(buf, rings))
            .map(|r| r.unwrap_or(0))
    }

    /// RECEIVE in place: `f` sees the readable bytes (the first contiguous part, see
    /// [`RecvBuf::read_with`]) and says how many it consumed. Ok(None) at end of stream.
    ///
    /// [`RecvBuf::read_with`]: super::recv_buf::RecvBuf::read_with
    pub fn recv_with<R>(
        &mut self,
        f: impl FnOnce(&[u8]) -> (usize, R),
        rings: &mut RingPool,
    ) -> Result<Option<R>, Error> {
        self.receive(|b| b.read_with_pooled(f, rings))
    }

    /// RECEIVE (UI-3), whatever the application does with the bytes: `take` consumes some
    /// of them (called only when some are readable). Ok(Some) after `take`; Ok(None) when
    /// nothing is left and the peer's FIN has arrived (end of stream); Err(WouldBlock) when
    /// nothing is readable yet. Data received on a SYN is only handed over after
    /// ESTABLISHED (ST-6).
    fn receive<R>(&mut self, take: impl FnOnce(&mut RecvBuf) -> R) -> Result<Option<R>, Error> {
        // Whatever this call finds, the next arrival is news again (`Event::Readable`).
        self.flags.set_readable_told(false);
        if self.state.is_synchronized() || self.state == State::Closed {
            if self.recv_buf.readable() > 0 {
                let r = take(&mut self.recv_buf);
                self.after_read();
                return Ok(Some(r));
            }
            if self.fin_received {
                return Ok(None);
            }
        }
        if self.state == State::Closed {
            return Err(self.closed_error());
        }
        Err(Error::WouldBlock)
    }

    /// What follows the application's read, however much it took (none included).
    fn after_read(&mut self) {
        let unread_start = self.recv_buf.next() - self.recv_buf.readable() as u64;
        if self.rcv_up().is_some_and(|up| up <= unread_start) {
            // Every urgent byte has been read: forget the pointer, which is kept in 32 bits
            // and must not be compared once the stream has moved 2^31 past it (issue 3).
            self.set_rcv_up(None);
        }
        if self.window_update_due() {
            // The read lets the right edge move by the receiver SWS amount (RFC 9293
            // 3.8.6.2.2, MUST-39) while the window offered is under half the buffer: tell
            // the peer now rather than with the next ACK.
            self.ack_now = true;
        }
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
