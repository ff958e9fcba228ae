//! synack-sim: a deterministic simulator for the synack TCP stack: a virtual clock, hosts
//! joined by seeded faulty links, scripted faults and applications, a record of every
//! segment and state change, and ladder diagrams of it all: as text, as an SVG picture, as
//! a self-contained HTML page, as a JSON trace, with explanations in English or Chinese.
//!
//! ```
//! use synack::{Instant, State};
//! use synack_sim::{Fault, Match, Script, Step, World};
//!
//! let mut w = World::new(1);
//! w.add_host("A", &["198.18.0.1"]);
//! w.add_host("B", &["198.18.0.2"]);
//! w.set_app("B", Script::new(vec![Step::listen(80), Step::Accept, Step::RecvUntilEof]));
//! w.set_app(
//!     "A",
//!     Script::new(vec![Step::connect("198.18.0.2:80"), Step::WaitConnected, Step::send(b"hi")]),
//! );
//! // The network drops A's first SYN: A resends it after the initial 1 s RTO.
//! w.add_fault(Fault::drop_nth("A", "B", Match::Syn, 1));
//! w.run_until_idle(Instant::from_secs(300));
//!
//! let r = w.record();
//! assert_eq!(r.times("A", "B", Match::Syn), [Instant::ZERO, Instant::from_secs(1)]);
//! assert_eq!(r.state_path("A"), [State::Closed, State::SynSent, State::Established]);
//! assert_eq!(w.app_log("B").received(0), b"hi");
//! print!("{}", synack_sim::ladder::render(r, &Default::default()));
//! ```

pub mod app;
pub mod experiment;
pub mod explain;
pub mod fault;
pub mod html;
pub mod i18n;
pub mod json;
pub mod ladder;
pub mod link;
pub mod packet;
pub mod pcap;
pub mod peer;
pub mod plot;
pub mod record;
pub mod report;
pub mod scenarios;
pub mod svg;
pub mod time_util;
pub mod world;

pub use app::{App, AppCtx, AppLog, FnApp, Script, Step};
pub use fault::{Action, Fault, Injection, Match, Occurrence};
pub use i18n::Lang;
pub use ladder::LadderOptions;
pub use link::LinkConfig;
pub use packet::{RawPacket, Summary};
pub use record::{DropReason, Fate, HostId, Record};
pub use world::{RunOutcome, World};
