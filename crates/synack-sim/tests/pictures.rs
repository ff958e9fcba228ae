//! The other faces of a run, for every scenario: the SVG is well-formed XML with exactly one
//! arrow per recorded segment; the HTML page fetches nothing and embeds the SVG; the JSON
//! trace parses and has one entry per segment; the Chinese explanations are Chinese, cover
//! every row, and are as deterministic as the English.

use synack_sim::i18n::{self, has_cjk, Lang};
use synack_sim::ladder::{self, LadderOptions};
use synack_sim::scenarios::{self, Scenario};
use synack_sim::{html, json, svg, RunOutcome, World};

fn options(lang: Lang) -> LadderOptions {
    LadderOptions {
        payload: true,
        explain: true,
        lang,
        ..LadderOptions::default()
    }
}

fn run(s: &Scenario) -> (World, RunOutcome) {
    s.run(1)
}

fn picture(s: &Scenario, w: &World, lang: Lang) -> String {
    let title = format!("{}: {}", s.name, i18n::title(s, lang));
    svg::render(w.record(), &options(lang), Some(&title))
}

fn class_is(n: &roxmltree::Node<'_, '_>, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

#[test]
fn svg_is_xml_with_one_arrow_per_segment() {
    for s in scenarios::all() {
        let (w, _) = run(s);
        let packets = w.record().packets.len();
        assert!(packets > 0, "{}", s.name);
        for lang in Lang::ALL {
            let text = picture(s, &w, lang);
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{} ({lang}): not XML: {e}", s.name));
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "svg");
            assert_eq!(
                root.tag_name().namespace(),
                Some("http://www.w3.org/2000/svg")
            );
            let arrows: Vec<_> = doc.descendants().filter(|n| class_is(n, "seg")).collect();
            assert_eq!(arrows.len(), packets, "{} ({lang}): arrows", s.name);
            // Each arrow is drawn (a line or a path per copy) and says what it is on hover.
            for (i, a) in arrows.iter().enumerate() {
                assert_eq!(a.attribute("id"), Some(format!("seg-{i}").as_str()));
                let copies = a
                    .children()
                    .filter(|c| class_is(c, "line") || class_is(c, "copy"))
                    .count();
                let fates = w.record().packets[i].fates.len().max(1);
                assert_eq!(copies, fates, "{} segment {i}", s.name);
                assert!(a.children().any(|c| c.has_tag_name("title")));
            }
            // One label per segment, and the picture is the same every time.
            let labels = doc
                .descendants()
                .filter(|n| class_is(n, "seg-label"))
                .count();
            assert_eq!(labels, packets, "{} ({lang}): labels", s.name);
            assert_eq!(
                text,
                picture(s, &run(s).0, lang),
                "{}: not deterministic",
                s.name
            );
        }
    }
}

#[test]
fn svg_marks_losses_rejections_states_and_cuts() {
    let s = scenarios::find("lost-syn-ack").unwrap();
    let (w, _) = run(s);
    let text = picture(s, &w, Lang::En);
    let doc = roxmltree::Document::parse(&text).unwrap();
    // Labels as the text ladder writes them; state changes beside the host lines.
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| class_is(n, "seg-label"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(labels[0], "SYN seq=0");
    assert_eq!(labels[1], "SYN,ACK seq=0 ack=1");
    let all_text: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "CLOSED → SYN_SENT",
        "LISTEN → SYN_RCVD",
        "TIME_WAIT → CLOSED",
        "A asks to open: SYN carries its initial sequence number",
        "the network drops it",
        "A finds it old or out of window",
        "59.99s later",
    ] {
        assert!(all_text.contains(needle), "{needle:?} missing");
    }
    // TIME-WAIT's minute is cut, not drawn: the picture stays short.
    let height: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert!(height < 1400.0, "{height}");
    assert_eq!(doc.descendants().filter(|n| class_is(n, "cut")).count(), 1);
    // The lost SYN,ACK stops half-way, in red; the rejected one reaches A, in red.
    let line = |id: &str| {
        let g = doc
            .descendants()
            .find(|n| n.attribute("id") == Some(id))
            .unwrap();
        let l = g.children().find(|c| class_is(c, "line")).unwrap();
        let x = |a: &str| -> f64 { l.attribute(a).unwrap().parse().unwrap() };
        (
            (x("x2") - x("x1")).abs(),
            l.attribute("stroke").unwrap().to_string(),
        )
    };
    let (lost, lost_colour) = line("seg-1");
    let (whole, colour) = line("seg-3");
    let (rejected, rejected_colour) = line("seg-4");
    assert!(
        lost < whole * 0.6 && rejected == whole,
        "{lost} {whole} {rejected}"
    );
    assert_eq!(lost_colour, "#d62728");
    assert_eq!(rejected_colour, "#d62728");
    assert_ne!(colour, "#d62728");
}

#[test]
fn html_is_self_contained_and_embeds_the_svg() {
    for s in scenarios::all() {
        let (w, outcome) = run(s);
        for lang in Lang::ALL {
            let o = options(lang);
            let page = html::Page {
                scenario: Some(s),
                seed: 1,
                outcome,
                options: &o,
            };
            let h = html::render(&w, &page);
            assert!(h.starts_with("<!DOCTYPE html>"));
            let lower = h.to_ascii_lowercase();
            for bad in [
                "src=", "href=", "@import", "url(", "<script", "<link", "<iframe",
            ] {
                assert!(!lower.contains(bad), "{} ({lang}): {bad}", s.name);
            }
            // The only address anywhere is the SVG namespace name, which is never fetched.
            let mut rest = lower.as_str();
            while let Some(i) = rest.find("http") {
                assert!(
                    rest[i..].starts_with("http://www.w3.org/2000/svg\""),
                    "{} ({lang}): {}",
                    s.name,
                    &rest[i..(i + 60).min(rest.len())]
                );
                rest = &rest[i + 4..];
            }
            // The picture inside is the SVG, well-formed, with its arrows.
            let a = h.find("<svg").expect("svg");
            let b = h.rfind("</svg>").expect("svg end") + "</svg>".len();
            let doc = roxmltree::Document::parse(&h[a..b]).unwrap();
            let arrows = doc.descendants().filter(|n| class_is(n, "seg")).count();
            assert_eq!(arrows, w.record().packets.len(), "{}", s.name);
            // The story, the counters and the connection table are on the page.
            assert!(h.contains(&svg::esc(i18n::story(s, lang))), "{}", s.name);
            assert!(h.contains("Tcp:"));
            assert!(h.contains(i18n::word(i18n::Word::Connections, lang)));
            assert_eq!(lang == Lang::Zh, h.contains("lang=\"zh-Hans\""));
        }
    }
}

#[test]
fn json_parses_with_one_entry_per_segment() {
    for s in scenarios::all() {
        let (w, outcome) = run(s);
        let meta = json::Meta {
            scenario: Some(s),
            seed: 1,
            outcome,
        };
        let text = json::render(&w, &meta, &options(Lang::En));
        let v: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}\n{text}", s.name));
        let rec = w.record();
        let segs = v["segments"].as_array().unwrap();
        assert_eq!(segs.len(), rec.packets.len(), "{}", s.name);
        for (i, (j, p)) in segs.iter().zip(&rec.packets).enumerate() {
            assert_eq!(j["id"], i);
            assert_eq!(j["time_us"], p.sent.as_micros());
            let sum = p.s();
            assert_eq!(j["flags"], sum.flags.to_string());
            assert_eq!(j["seq"], sum.seq);
            assert_eq!(j["ack"], sum.ack);
            assert_eq!(j["len"], sum.payload_len);
            assert_eq!(j["window"], sum.window);
            assert_eq!(j["from"], rec.host_name(p.from));
            assert_eq!(j["to"], rec.host_name(p.to));
            assert_eq!(j["fates"].as_array().unwrap().len(), p.fates.len());
            assert!(j["fate"].is_string(), "{}: {j}", s.name);
            assert!(!j["explanation"].as_str().unwrap().is_empty());
        }
        // The trace holds every send, state change (with its cause) and app call, in order.
        let trace = v["trace"].as_array().unwrap();
        let sends = trace.iter().filter(|e| e["type"] == "send").count();
        assert_eq!(sends, rec.packets.len());
        let states: Vec<_> = trace.iter().filter(|e| e["type"] == "state").collect();
        assert!(!states.is_empty());
        assert!(states
            .iter()
            .all(|e| e["cause"].is_string() && e["from"].is_string()));
        let times: Vec<u64> = trace
            .iter()
            .map(|e| e["time_us"].as_u64().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|t| t[0] <= t[1]),
            "{}: out of order",
            s.name
        );
        assert_eq!(v["scenario"], s.name);
        assert!(v["counters"]["A"].is_object());
        assert_eq!(text, json::render(&run(s).0, &meta, &options(Lang::En)));
    }
}

#[test]
fn chinese_everywhere_and_deterministic() {
    for s in scenarios::all() {
        let (w, outcome) = run(s);
        let zh = ladder::render(w.record(), &options(Lang::Zh));
        let en = ladder::render(w.record(), &options(Lang::En));
        assert!(has_cjk(&zh), "{}: no Chinese", s.name);
        assert!(!has_cjk(&en), "{}: Chinese in the English ladder", s.name);
        // Same rows, same arrows: only the explanations change.
        assert_eq!(zh.lines().count(), en.lines().count(), "{}", s.name);
        assert_eq!(zh, ladder::render(run(s).0.record(), &options(Lang::Zh)));
        // Every explanation, of every segment, state change and call, is in Chinese.
        let meta = json::Meta {
            scenario: Some(s),
            seed: 1,
            outcome,
        };
        let v: serde_json::Value =
            serde_json::from_str(&json::render(&w, &meta, &options(Lang::Zh))).unwrap();
        assert!(has_cjk(v["story"].as_str().unwrap()) && has_cjk(v["title"].as_str().unwrap()));
        let mut explained = 0;
        let items = v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .chain(v["trace"].as_array().unwrap());
        for item in items {
            if let Some(e) = item["explanation"].as_str().filter(|e| !e.is_empty()) {
                assert!(has_cjk(e), "{}: not Chinese: {e}", s.name);
                explained += 1;
            }
        }
        assert!(explained > 0);
        // State names stay as netstat writes them.
        for h in &w.record().hosts {
            for (_, _, from, to, _) in w.record().transitions(&h.name) {
                assert!(zh.contains(&format!("{from} -> {to}")), "{}", s.name);
            }
        }
    }
}

/// The picture the README shows is what `synack demo lost-syn-ack --svg` draws today
/// (`UPDATE_GOLDEN=1` rewrites it, like the golden ladders). The hover texts, which carry
/// absolute sequence numbers, windows and options, are left out of the comparison.
#[test]
fn readme_picture_is_current() {
    let s = scenarios::find("lost-syn-ack").unwrap();
    let (w, _) = run(s);
    let got = picture(s, &w, Lang::En);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/lost-syn-ack.svg");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        without_hover(&got) == without_hover(&want),
        "docs/lost-syn-ack.svg is stale: UPDATE_GOLDEN=1 cargo test -p synack-sim --test pictures"
    );
}

fn without_hover(svg: &str) -> String {
    let mut out = String::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<title>#") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("</title>").map_or(rest.len(), |j| i + j + 8);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}
