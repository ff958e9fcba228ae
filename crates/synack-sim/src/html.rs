//! One self-contained HTML page per run: the story, the ladder as an inline SVG, the same
//! ladder as text, the counters and the connections left at the end. Inline CSS only: no
//! scripts, no fonts, no stylesheets or images from anywhere, so the page opens the same
//! offline, from a mail attachment or a file share.

use crate::i18n::{self, Word};
use crate::ladder::{self, LadderOptions};
use crate::report;
use crate::scenarios::Scenario;
use crate::svg::{self, esc};
use crate::world::{RunOutcome, World};

const CSS: &str = "\
:root { color-scheme: light; }
body { margin: 0; padding: 24px 32px 40px; background: #fafafa; color: #222;
  font: 15px/1.55 system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'PingFang SC',
  'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif; }
main { max-width: 1400px; }
p { max-width: 80em; }
h1 { font-size: 22px; margin: 0 0 4px; }
h1 code { font-size: 21px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.title { margin: 0 0 16px; color: #444; font-size: 16px; }
p.refs, p.legend { color: #666; font-size: 13px; }
.figure { overflow-x: auto; background: #fff; border: 1px solid #ddd; border-radius: 6px;
  padding: 8px; }
.figure svg { display: block; max-width: 100%; height: auto; }
pre { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 12px;
  overflow-x: auto; font: 12.5px/1.45 ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono',
  monospace; }
.hosts { display: flex; flex-wrap: wrap; gap: 16px; }
.hosts > div { flex: 1 1 320px; min-width: 0; }
h3 { font-size: 14px; margin: 8px 0 4px; }
details summary { cursor: pointer; color: #1f6fb2; }
";

/// Everything the page shows.
pub struct Page<'a> {
    pub scenario: Option<&'a Scenario>,
    pub seed: u64,
    pub outcome: RunOutcome,
    /// Ladder options (language, numbers, explanations) for both the picture and the text.
    pub options: &'a LadderOptions,
}

/// The page for a finished run.
pub fn render(world: &World, page: &Page<'_>) -> String {
    let o = page.options;
    let lang = o.lang;
    let rec = world.record();
    let (name, title, story, refs) = match page.scenario {
        Some(s) => (
            s.name,
            i18n::title(s, lang),
            i18n::story(s, lang),
            Some(s.refs),
        ),
        None => ("synack", "", "", None),
    };
    let heading = if title.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {title}")
    };
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n");
    h.push_str(&format!(
        "<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n",
        lang.pick("en", "zh-Hans")
    ));
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<title>synack demo: {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&heading)
    ));
    h.push_str(&format!("<h1><code>{}</code></h1>\n", esc(name)));
    if !title.is_empty() {
        h.push_str(&format!("<p class=\"title\">{}</p>\n", esc(title)));
    }
    if !story.is_empty() {
        h.push_str(&format!(
            "<h2>{}</h2>\n<p class=\"story\">{}</p>\n",
            esc(i18n::word(Word::Story, lang)),
            esc(story)
        ));
    }
    let mut refs_line = String::new();
    if let Some(r) = refs {
        refs_line.push_str(&format!("{} {r}; ", i18n::word(Word::Checklist, lang)));
    }
    refs_line.push_str(&format!("{} {}", i18n::word(Word::Seed, lang), page.seed));
    h.push_str(&format!("<p class=\"refs\">{}</p>\n", esc(&refs_line)));

    h.push_str(&format!(
        "<h2>{}</h2>\n<p class=\"legend\">{}</p>\n<div class=\"figure\">\n",
        esc(i18n::word(Word::Ladder, lang)),
        esc(i18n::word(Word::Legend, lang))
    ));
    h.push_str(&svg::render(rec, o, None));
    h.push_str("</div>\n");
    if page.outcome == RunOutcome::Limit {
        h.push_str(&format!(
            "<p class=\"refs\">{}</p>\n",
            esc(i18n::word(Word::RunStopped, lang))
        ));
    }

    h.push_str(&format!(
        "<h2>{}</h2>\n<div class=\"hosts\">\n",
        esc(i18n::word(Word::Counters, lang))
    ));
    for (host, text) in report::counters_text(world) {
        h.push_str(&format!(
            "<div><h3>{}</h3>\n<pre>{}</pre></div>\n",
            esc(&host),
            esc(text.trim_end())
        ));
    }
    h.push_str("</div>\n");
    h.push_str(&format!(
        "<h2>{}</h2>\n<pre>{}</pre>\n",
        esc(i18n::word(Word::Connections, lang)),
        esc(report::ss_table(world, lang).trim_end())
    ));

    let text = LadderOptions {
        colour: false,
        ..o.clone()
    };
    h.push_str(&format!(
        "<details>\n<summary>{}</summary>\n<pre>{}</pre>\n</details>\n",
        esc(i18n::word(Word::TextLadder, lang)),
        esc(ladder::render(rec, &text).trim_end())
    ));
    h.push_str("</main>\n</body>\n</html>\n");
    h
}
