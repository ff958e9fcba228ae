//! The languages of the demo's words: English (the default) and Chinese (`--lang zh`), for
//! the people who learned the handshake from the Chinese explanations this project started
//! from. Segment labels (`SYN seq=0`), state names (`SYN_SENT`) and application calls
//! (`connect()`) stay as the RFC, netstat and the sockets API write them, in both languages.

use crate::scenarios::Scenario;
use std::fmt;
use std::str::FromStr;

/// A language of the explanations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// `en`, `zh`: the command-line spelling (and the HTML `lang` attribute).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// Pick the English or the Chinese of a pair.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Lang, String> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Lang::En),
            "zh" | "cn" | "zh-cn" | "zh-hans" | "chinese" => Ok(Lang::Zh),
            _ => Err(format!("unknown language {s:?} (en or zh)")),
        }
    }
}

/// Whether a string holds CJK characters (tests use it to check the Chinese is there).
pub fn has_cjk(s: &str) -> bool {
    s.chars().any(is_wide)
}

/// A character that takes two columns in a terminal (and about 1 em in a picture).
pub fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD)
}

/// Display width in terminal columns (wide characters count two).
pub fn width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

/// Word wrap to `cols` display columns: at spaces for English, anywhere between wide
/// characters (but not before CJK punctuation) for Chinese.
pub fn wrap(text: &str, cols: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0;
    // Split into units: a run of non-space narrow characters is one word; every wide
    // character is its own unit; spaces separate.
    let mut units: Vec<(String, bool)> = Vec::new(); // (text, space before)
    let mut space = false;
    let mut word = String::new();
    let flush = |word: &mut String, units: &mut Vec<(String, bool)>, space: &mut bool| {
        if !word.is_empty() {
            units.push((std::mem::take(word), *space));
            *space = false;
        }
    };
    for c in text.chars() {
        if c == ' ' {
            flush(&mut word, &mut units, &mut space);
            space = true;
        } else if is_wide(c) {
            flush(&mut word, &mut units, &mut space);
            // Closing punctuation sticks to what comes before it.
            if is_closing(c) {
                if let Some(last) = units.last_mut() {
                    if !space {
                        last.0.push(c);
                        continue;
                    }
                }
            }
            units.push((c.to_string(), space));
            space = false;
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut units, &mut space);
    for (u, sp) in units {
        let w = width(&u);
        let need = if cur.is_empty() {
            w
        } else {
            w + usize::from(sp)
        };
        if !cur.is_empty() && cur_w + need > cols {
            lines.push(std::mem::take(&mut cur));
            cur_w = 0;
        }
        if !cur.is_empty() && sp {
            cur.push(' ');
            cur_w += 1;
        }
        cur.push_str(&u);
        cur_w += w;
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '，' | '。' | '：' | '；' | '、' | '）' | '」' | '』' | '！' | '？' | '”'
    )
}

/// A scenario's one-line title in `lang`.
pub fn title(s: &Scenario, lang: Lang) -> &'static str {
    match lang {
        Lang::En => s.title,
        Lang::Zh => zh(s.name).map_or(s.title, |z| z.0),
    }
}

/// A scenario's story in `lang`.
pub fn story(s: &Scenario, lang: Lang) -> &'static str {
    match lang {
        Lang::En => s.story,
        Lang::Zh => zh(s.name).map_or(s.story, |z| z.1),
    }
}

/// Whether a scenario has its Chinese title and story.
pub fn has_chinese(s: &Scenario) -> bool {
    zh(s.name).is_some()
}

/// Words of the demo's frame (headings, table titles) in `lang`.
pub fn word(key: Word, lang: Lang) -> &'static str {
    use Word::*;
    let (en, zh) = match key {
        Checklist => ("checklist", "对应检查项"),
        Seed => ("seed", "随机种子"),
        Time => ("time", "时间"),
        Later => ("later", "之后"),
        RunStopped => (
            "the run stopped with work still pending (its time limit, or --until)",
            "运行停止时仍有未完成的工作（到了时间上限，或按 --until 的要求）",
        ),
        Counters => ("Counters (netstat -s)", "计数器（netstat -s）"),
        Connections => ("Connections at the end (ss)", "结束时的连接（ss）"),
        NoConnections => (
            "no connections left: every one has closed",
            "没有剩下的连接：全部已经关闭",
        ),
        Story => ("The story", "故事"),
        Ladder => ("Ladder", "梯形图"),
        TextLadder => ("The same ladder as text", "同一张梯形图的文本形式"),
        Legend => (
            "Time runs down. Each arrow is one segment, from its sender at the time it left to \
             the receiver at the time it arrived. A red X half-way: the network lost it; a red \
             X at a host: the host received it and rejected it. Boxes on the host lines are \
             state changes; a zigzag across the lines marks a long quiet stretch, shortened.",
            "时间从上往下走。每个箭头是一个报文段：从发送方发出的时刻画到接收方收到的时刻。\
             箭头中途的红色 X 表示报文在网络中丢失；画在主机一侧的红色 X 表示主机收到了但拒绝了它。\
             主机竖线上的方框是状态变化；横穿竖线的折线表示一段被压缩的长时间空闲。",
        ),
        GeneratedBy => (
            "Drawn by synack demo from a deterministic simulation: the same seed always gives \
             the same picture.",
            "由 synack demo 根据确定性模拟绘制：同一个随机种子总是得到同一张图。",
        ),
    };
    lang.pick(en, zh)
}

/// Keys of [`word`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Word {
    Checklist,
    Seed,
    Time,
    Later,
    RunStopped,
    Counters,
    Connections,
    NoConnections,
    Story,
    Ladder,
    TextLadder,
    Legend,
    GeneratedBy,
}

/// A scenario's Chinese title and story.
fn zh(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "normal" => (
            "一个连接的一生：三次握手、传数据、四次挥手、TIME_WAIT",
            "A 用三次握手连上 B 的 80 端口，双方各发送五个字节，然后 A 先关闭。B 确认 A 的 FIN，\
             稍后关闭自己这一端；A 在 TIME_WAIT 中等待 2MSL（60 秒）之后才彻底忘掉这个连接。",
        ),
        "data-on-third-segment" => (
            "握手还没完成 A 就写数据：数据可以搭第三次握手的便车",
            "A 在 connect() 之后马上调用 send()，这时 SYN,ACK 还没到。数据先留在 A 的发送缓冲区里；\
             SYN,ACK 一到，它们就和完成握手的那个 ACK 一起发出。B 收到这个报文段就进入 \
             ESTABLISHED，并把同一报文段里的数据交给应用程序。第一、二次握手不能带数据，第三次可以。",
        ),
        "lost-syn" => (
            "第一个 SYN 丢了：A 在 1 秒后重传",
            "网络丢掉了 A 的第一个 SYN，B 对此一无所知。A 的重传定时器（初始 1 秒）到期后，\
             再发一次 SYN，初始序列号不变。之后握手正常完成，只是晚了一秒。",
        ),
        "syn-timeout" => (
            "所有 SYN 都丢了：在 1、3、7、15、31、63 秒重试，127 秒时 connect 失败",
            "没有一个报文能到达 B。A 按指数退避重发 SYN（间隔 1、2、4、8、16、32 秒），重试六次后\
             再等最后的 64 秒，然后告诉应用程序 connect() 超时。这和 Linux 在 \
             tcp_syn_retries = 6 时的行为一样。",
        ),
        "lost-syn-ack" => (
            "B 的 SYN,ACK 丢了：两边都重传",
            "A 的 SYN 到达 B，B 回复 SYN,ACK，并在半连接队列里保留一个 SYN_RCVD 状态的条目。\
             这个 SYN,ACK 丢了。1 秒后两边的定时器同时到期：A 重发 SYN（B 为同一个条目再回一个 \
             SYN,ACK，而不是新建一个），B 也重发自己的 SYN,ACK。",
        ),
        "lost-third-ack" => (
            "第三次握手丢了：A 已经 ESTABLISHED，B 还停在 SYN_RCVD",
            "A 收到 SYN,ACK，进入 ESTABLISHED，发出最后一个 ACK，但网络把它丢了。B 仍然处于 \
             SYN_RCVD，它的应用程序还不能 accept 这个连接。B 重传 SYN,ACK，A 再次回复 ACK，\
             这时 B 才进入 ESTABLISHED。",
        ),
        "stale-syn" => (
            "连接结束后才到达的旧 SYN：为什么要三次握手",
            "A 的第一个 SYN 在网络中滞留了。A 重传 SYN，连接正常建立、正常关闭。90 秒后那个过期的 \
             SYN 才到达 B，B 像对待任何新请求一样回复 SYN,ACK。A 并没有这个连接，于是回复 RST，\
             B 丢弃这个半连接，回到 LISTEN：没有建立起一个虚假的连接。如果只有两次握手，B 在发出\
             确认时就会认为连接已经建立，白白等待 A 发数据。",
        ),
        "lost-last-ack" => (
            "A 在挥手中的最后一个 ACK 丢了：TIME_WAIT 派上用场",
            "A 先关闭，收到 B 的 FIN 后进入 TIME_WAIT；它为这个 FIN 发出的 ACK 丢了。处于 LAST_ACK \
             的 B 在重传超时后再次发送 FIN。A 还在 TIME_WAIT 中，所以能再回一个 ACK（并重新开始 \
             2MSL 计时），而不是回 RST。",
        ),
        "fin-wait-2" => (
            "对方一直不关闭：孤儿 FIN_WAIT_2 连接在 60 秒后被回收",
            "A 关闭，B 确认了，但 B 的应用程序始终不关闭自己这一端。A 的应用程序已经释放了套接字，\
             所以 A 不会永远等下去：FIN-WAIT-2 超时（60 秒）后它就忘掉这个连接。B 在 90 秒时终于\
             写数据，A 找不到对应的连接，回复 RST。",
        ),
        "simultaneous-open" => (
            "双方同时向对方发起连接：两个 SYN 交叉而过",
            "A（端口 40000）和 B（端口 40001）在同一时刻向对方调用 connect()。双方都在 SYN_SENT \
             状态收到对方的 SYN，于是进入 SYN_RCVD，并回复带有自己 ISN 的 SYN,ACK；随后各自的 \
             ACK 让连接建立。四个报文段，一个连接。",
        ),
        "simultaneous-close" => (
            "双方同时关闭：两个 FIN 交叉而过，双方都经过 CLOSING",
            "A 和 B 在同一时刻调用 close()。双方都在 FIN_WAIT_1 状态收到对方的 FIN，进入 CLOSING；\
             等到自己的 FIN 被确认后进入 TIME_WAIT，双方都要等待 2MSL。",
        ),
        "half-close" => (
            "A 关闭写方向，但继续读 B 要说的话",
            "A 发出请求后调用 shutdown()：它的 FIN 表示“我说完了”，而不是“别说了”。A 停在 \
             FIN_WAIT_2，而处于 CLOSE_WAIT 的 B 读到流结束后，仍然分三次把回答发完，然后才关闭。",
        ),
        "reset" => (
            "RST：一次被拒绝的连接，和一次被中止的连接",
            "A 先连接 81 端口，那里没有人监听：B 的协议栈用 RST 回应这个 SYN，connect() 以“连接被\
             拒绝”失败。然后 A 连接 80 端口，发送五个字节后中止连接：它发出的 RST 让 B 立即丢弃\
             连接，B 的应用程序得知连接被重置。",
        ),
        "half-open" => (
            "A 重启后忘掉了连接；B 发来的数据换来一个 RST",
            "A 和 B 已经建立连接。第 5 秒时 A 崩溃重启，丢失了全部 TCP 状态。第 10 秒 B 发送数据；\
             A 没有对应的连接，回复 RST，B 接受这个 RST，中止这个半打开的连接。",
        ),
        "zero-window" => (
            "接收方不读数据：窗口关闭，A 探测了 10 分钟，还丢了一个窗口更新",
            "B 接受了连接但不读数据；它的接收缓冲区只能放两个报文段，所以窗口降到零。A 把剩下的\
             数据留在手里，开始探测窗口：第一次在一个 RTO 之后，之后不断退避，直到每 120 秒探测\
             一次。B 每次探测都有回应，所以无论持续多久，A 都不会放弃。第 600 秒 B 开始读数据；\
             它的窗口更新丢了，靠 A 的下一次探测才重新得知窗口已经打开。",
        ),
        "lost-segment" => (
            "尾部附近丢了一个数据段：SACK 指出丢了哪个，RACK 决定何时重传",
            "A 写入 8760 字节（六个满报文段，最后 72 字节与 FIN 同行）后关闭；第五个报文段丢失。\
             B 确认了前四个；第六个和 FIN 越过空洞到达，各自引出一个重复 ACK，其中的 SACK 块\
             说明 B 已经收到了什么。两个重复 ACK 不够经典快速重传所等的三个，但 RACK（RFC \
             8985）按时间推理：在第五个之后发出的报文段已经到达，所以从第五个发出算起，一旦过了\
             那个报文段的往返时间再加上最小 RTT 的四分之一，第五个就算丢失。A 在 SACK 到达后 \
             5 毫秒就重传它，不必等重传超时，关闭随后顺利完成。",
        ),
        "syn-flood" => (
            "12 个伪造的 SYN 冲击只能放 8 个的半连接队列，然后来了一个真正的客户端",
            "M 用伪造的源地址向 B 的监听端口发送 12 个 SYN，而 B 的半连接队列只能放 8 个；M 从不\
             完成握手。B 的 SYN,ACK 没有回音，B 不停地重传它们。A 随后发起连接：它能否立刻连上，\
             取决于 B 的防御手段（SYN cookie、淘汰旧条目）；如果没有防御，就只能等队列空出位置。",
        ),
        _ => return None,
    })
}

/// A remark from the world or a scenario (`A reboots: ...`) in `lang`.
pub fn note(text: &str, lang: Lang) -> String {
    if lang == Lang::Zh {
        if let Some(h) = text.strip_suffix(" reboots: all its connections are forgotten") {
            return format!("{h} 重启：它的所有连接都被忘掉了");
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names() {
        assert_eq!("zh".parse::<Lang>(), Ok(Lang::Zh));
        assert_eq!("EN".parse::<Lang>(), Ok(Lang::En));
        assert!("fr".parse::<Lang>().is_err());
        assert_eq!(Lang::default(), Lang::En);
    }

    #[test]
    fn widths_and_wrapping() {
        assert_eq!(width("A 收到 SYN"), 10);
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
        // Chinese breaks between characters, never before closing punctuation.
        let lines = wrap("一二三四，五六", 8);
        assert_eq!(lines, vec!["一二三", "四，五六"]);
        for l in wrap("A 收到 SYN：放入半连接队列（SYN 队列）", 12) {
            assert!(width(&l) <= 12, "{l}");
        }
    }

    #[test]
    fn every_scenario_speaks_chinese() {
        for s in crate::scenarios::all() {
            assert!(has_chinese(s), "{} has no Chinese story", s.name);
            assert!(has_cjk(title(s, Lang::Zh)) && has_cjk(story(s, Lang::Zh)));
            assert_eq!(story(s, Lang::En), s.story);
        }
    }
}
