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

/// Most different names one message may mention; more are left as text.
pub const MAX_MENTIONED_NAMES: usize = 50;

/// The names a message's text mentions, as written (`@ada` is `ada`, lowercased), and
/// whether it says `@here` or `@everyone`. A mention is `@` at the start of the text or
/// after anything but a letter, digit, `.`, `_`, `-` or `@` (so `mail@ada.example` is
/// none), followed by a username's characters; a trailing `.` or `-` is punctuation.
/// Nothing in inline code or a code block mentions anyone. Which names are members is for
/// the hub to say.
pub fn mentioned(body: &str) -> (Vec<String>, bool, bool) {
    let mut names: Vec<String> = Vec::new();
    let (mut here, mut everyone) = (false, false);
    if !body.contains('@') {
        return (names, here, everyone);
    }
    let mut in_code = 0u32;
    // The parser may cut one run of text in several pieces (at a `_` that emphasises
    // nothing, say): a run is read whole, up to the next construct.
    let mut run = String::new();
    let mut read = |run: &mut String| {
        for name in mention_tokens(run) {
            match name.as_str() {
                "here" => here = true,
                "everyone" => everyone = true,
                _ if names.contains(&name) || names.len() == MAX_MENTIONED_NAMES => {}
                _ => names.push(name),
            }
        }
        run.clear();
    };
    for event in Parser::new_ext(body, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(text) if in_code == 0 => {
                run.push_str(&text);
                continue;
            }
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            _ => {}
        }
        read(&mut run);
    }
    read(&mut run);
    (names, here, everyone)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The `@name` tokens of a run of plain text, lowercased, in order.
fn mention_tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.char_indices().filter_map(move |(at, c)| {
        if c != '@' {
            return None;
        }
        let before = text[..at].chars().next_back();
        if before.is_some_and(|b| is_name_char(b) || b == '@') {
            return None;
        }
        let rest = &text[at + 1..];
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches(['.', '-']);
        (!name.is_empty()).then(|| name.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::{mentioned, plain};

    #[test]
    fn mentions_are_names_after_an_at_outside_code() {
        let names = |body: &str| mentioned(body).0;
        assert_eq!(names("@ada hi"), ["ada"]);
        assert_eq!(names("hey @ADA! and @bob.smith."), ["ada", "bob.smith"]);
        assert_eq!(names("(@ada) @ada @ada"), ["ada"], "each once");
        assert!(names("mail@ada.example").is_empty());
        assert!(names("@@ada @ .@ada a@b").is_empty());
        assert!(
            names("`@ada` and\n```\n@bob\n```").is_empty(),
            "not in code"
        );
        assert_eq!(
            names("**@ada** _@bob_"),
            ["ada", "bob"],
            "formatted still counts"
        );
        assert_eq!(
            names("@bob_smith_ and @a_b"),
            ["bob_smith_", "a_b"],
            "underscores are the name's"
        );
        assert_eq!(mentioned("@here and @everyone"), (vec![], true, true));
        assert_eq!(mentioned("no one"), (vec![], false, false));
        let many: String = (0..80).map(|i| format!("@user{i} ")).collect();
        assert_eq!(names(&many).len(), super::MAX_MENTIONED_NAMES);
    }

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
