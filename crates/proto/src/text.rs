//! Message text without its markup.
//!
//! A message's body is plain text on the wire, and is stored and searched as such. Clients
//! show a Markdown subset of it (bold, italic, strikethrough, inline code, fenced code
//! blocks, block quotes, lists, and links to http, https and mailto addresses; everything
//! else is the text that was typed: `docs/protocol.md`, "How message text is shown"). The
//! web UI parses it for showing (`ui/js/format.js`); [`plain`] reads the same subset back
//! as text, for what cannot show formatting: desktop notifications and search snippets.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// `body` as the subset shows it, without the markup: `**Lunch** at _noon_` is
/// `Lunch at noon`; blocks (paragraphs, items, quotes, code) end with a newline, except
/// the last. Constructs outside the subset (headings, HTML, images, rules, entities, links
/// elsewhere than http, https or mailto) stay as typed.
pub fn plain(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    // While inside a construct shown as typed: where it ends, and how deep we are in it.
    let mut verbatim: Option<(usize, u32)> = None;
    // An open fenced code block: its source, and where its text starts in `out`.
    let mut fence: Option<(Range<usize>, usize)> = None;
    for (event, range) in Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH).into_offset_iter() {
        if let Some((end, depth)) = verbatim.as_mut() {
            match event {
                Event::Start(_) => *depth += 1,
                Event::End(_) if *depth == 0 => {
                    let end = *end;
                    verbatim = None;
                    push_block_end(&mut out, end, body);
                }
                Event::End(_) => *depth -= 1,
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) if !in_subset(&tag) => {
                out.push_str(source(body, &range).trim_end());
                verbatim = Some((range.end, 0));
            }
            Event::Start(Tag::CodeBlock(_)) => fence = Some((range, out.len())),
            Event::Start(_) => {}
            Event::End(TagEnd::CodeBlock) => {
                // A fence with nothing in it (a run of backticks, say) is the text typed.
                if let Some((range, from)) = fence.take() {
                    if out[from..].trim().is_empty() {
                        out.truncate(from);
                        out.push_str(source(body, &range).trim_end());
                    }
                }
                end_line(&mut out);
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::List(_),
            ) => end_line(&mut out),
            Event::End(_) => {}
            Event::Text(text) => {
                // An entity (`&amp;`) is shown as typed; pulldown-cmark would decode it.
                let typed = source(body, &range);
                if typed.starts_with('&') && typed.ends_with(';') && typed != &*text {
                    out.push_str(typed);
                } else {
                    out.push_str(&text);
                }
            }
            Event::Code(code) => out.push_str(&code),
            Event::SoftBreak | Event::HardBreak => out.push('\n'),
            // Rules and raw HTML blocks are lines of their own; inline HTML, footnote
            // references and the like are not. All are as typed.
            event => {
                out.push_str(source(body, &range).trim_end());
                if matches!(event, Event::Rule | Event::Html(_)) {
                    end_line(&mut out);
                }
            }
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Whether the construct `tag` opens is one the subset formats.
fn in_subset(tag: &Tag<'_>) -> bool {
    match tag {
        Tag::Paragraph
        | Tag::BlockQuote(_)
        | Tag::List(_)
        | Tag::Item
        | Tag::Emphasis
        | Tag::Strong
        | Tag::Strikethrough
        | Tag::CodeBlock(CodeBlockKind::Fenced(_)) => true,
        Tag::Link { dest_url, .. } => {
            let url = dest_url.to_ascii_lowercase();
            ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
        }
        _ => false,
    }
}

fn source<'a>(body: &'a str, range: &Range<usize>) -> &'a str {
    body.get(range.clone()).unwrap_or("")
}

/// After a construct shown as typed: a block gets its line, an inline one (a link) none.
fn push_block_end(out: &mut String, end: usize, body: &str) {
    if body[..end].ends_with('\n') || end == body.len() {
        end_line(out);
    }
}

fn end_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn the_subset_loses_its_markup() {
        assert_eq!(plain("hello"), "hello");
        assert_eq!(
            plain("**Lunch** at _noon_ ~~or not~~"),
            "Lunch at noon or not"
        );
        assert_eq!(plain("see `cargo build`"), "see cargo build");
        assert_eq!(plain("one\ntwo"), "one\ntwo");
        assert_eq!(plain("> said\n\nreply"), "said\nreply");
        assert_eq!(plain("- a\n- b\n\n1. c"), "a\nb\nc");
        assert_eq!(
            plain("```rust\nfn main() {}\n```\nafter"),
            "fn main() {}\nafter"
        );
        assert_eq!(
            plain("[notes](https://ok.example/n) <mailto:a@b.example>"),
            "notes mailto:a@b.example"
        );
    }

    #[test]
    fn what_is_outside_the_subset_stays_as_typed() {
        for typed in [
            "# not a heading",
            "<b>html</b>",
            "&amp; &lt;",
            "![pic](https://ok.example/p.png)",
            "[x](javascript:alert(1))",
            "---",
        ] {
            assert_eq!(plain(typed), typed, "{typed}");
        }
        assert_eq!(plain("# title\nbody"), "# title\nbody");
    }

    #[test]
    fn bombs_are_text_and_fast_enough_to_be_unremarkable() {
        let quotes = format!("{} deep", ">".repeat(16_000));
        assert!(plain(&quotes).ends_with("deep"));
        let ticks = format!("{}x", "`".repeat(10_000));
        assert!(plain(&ticks).contains('x'));
        let link = format!("https://a.example/{}", "a".repeat(16_000));
        assert_eq!(plain(&link), link);
        let stars = "*a **".repeat(3000);
        assert!(!plain(&stars).is_empty());
    }
}
