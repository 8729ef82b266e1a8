//! Search over message bodies: the FTS5 query, ranking and snippets (see [`search()`]).

use chinwag_proto::{ConversationId, MessageId, UserId};
use rusqlite::{params, Connection};

use super::*;
use crate::Result;

/// What a search may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub conversation_id: Option<ConversationId>,
    pub sender_id: Option<UserId>,
    /// Only messages sent before this time (ms since the epoch).
    pub before: Option<chinwag_proto::Millis>,
    /// Only messages sent at or after this time.
    pub after: Option<chinwag_proto::Millis>,
    pub limit: u32,
}

/// Matches considered for ranking: the newest this many that the user may see. Ranking every
/// match of a common word over a million messages would take seconds; people look for
/// recent things, and narrowing the words narrows the matches.
pub const SEARCH_CANDIDATES: u32 = 2_000;

/// Longest search text, in characters, and most words in it.
pub const MAX_SEARCH_CHARS: usize = 200;

pub const MAX_SEARCH_WORDS: usize = 12;

/// Where the words of `text` are, as byte ranges: runs of letters and digits, as the index
/// splits text. The one definition of a word for searching, ranking and snippets.
pub(crate) fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// The words of `text`, lower case.
pub(crate) fn words_of(text: &str) -> Vec<String> {
    word_spans(text)
        .into_iter()
        .map(|(s, e)| text[s..e].to_lowercase())
        .collect()
}

/// The words of a search: at most [`MAX_SEARCH_WORDS`].
pub(crate) fn search_words(text: &str) -> Vec<String> {
    let mut words = words_of(text);
    words.truncate(MAX_SEARCH_WORDS);
    words
}

/// Turns what a person typed into an FTS5 query that cannot be a syntax error or an
/// operator: each word becomes a quoted string, and all must match. Whole words only: a
/// prefix query makes FTS5 gather every message holding any word with that prefix before it
/// returns one (700 ms for "history" over a million messages). `None` when nothing
/// searchable is left.
pub fn search_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    Some(quoted.join(" AND "))
}

/// How well a body's words (`tokens`) match the search words: BM25's term-frequency part
/// (k1 = 1.2, b = 0.75) against the candidates' average length. FTS5's own `bm25()` counts
/// every message holding each word to weigh it, which for a word in every message takes most
/// of a second; among messages that all hold every word, that weight changes little.
pub(crate) fn relevance(tokens: &[String], words: &[String], average_len: f64) -> f64 {
    let len = tokens.len() as f64;
    let norm = 1.2 * (0.25 + 0.75 * len / average_len.max(1.0));
    words
        .iter()
        .map(|word| {
            let tf = tokens.iter().filter(|t| *t == word).count() as f64;
            tf / (tf + norm)
        })
        .sum()
}

/// Full-text search for the words of `text` over the messages `me` can see (conversations
/// they are an active member of; deleted messages are never indexed), best first by
/// [`relevance`] among the newest [`SEARCH_CANDIDATES`] matches. Nothing when `text` has no
/// words.
pub fn search(
    conn: &Connection,
    me: UserId,
    text: &str,
    filter: &SearchFilter,
) -> Result<Vec<chinwag_proto::rest::SearchHit>> {
    let Some(query) = search_query(text) else {
        return Ok(Vec::new());
    };
    let query = query.as_str();
    let words = search_words(text);
    // The index stores each word's list of messages oldest first and can jump to an id, but
    // walking it backwards means reading all of it (800 ms for a word in each of a million
    // messages). So look forwards from a window of the newest ids, widened until it holds
    // enough matches or covers everything.
    let newest: MessageId =
        conn.query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT f.rowid, m.body
         FROM messages_fts AS f
         JOIN messages AS m ON m.id = f.rowid
         WHERE messages_fts MATCH ?1
           AND f.rowid >= ?2
           AND m.deleted = 0
           AND EXISTS (
               SELECT 1 FROM members mb
               WHERE mb.conversation_id = m.conversation_id AND mb.user_id = ?3
                 AND mb.active = 1 AND {visible})
           AND (?4 IS NULL OR m.conversation_id = ?4)
           AND (?5 IS NULL OR m.sender_id = ?5)
           AND (?7 IS NULL OR m.created_at < ?7)
           AND (?8 IS NULL OR m.created_at >= ?8)
         ORDER BY f.rowid ASC
         LIMIT ?6",
        visible = visible("mb", "m.seq")
    ))?;
    let mut window: i64 = 4_000;
    let candidates: Vec<(MessageId, String)> = loop {
        let lowest = newest.get().saturating_sub(window);
        let found: Vec<(MessageId, String)> = stmt
            .query_map(
                params![
                    query,
                    lowest,
                    me,
                    filter.conversation_id,
                    filter.sender_id,
                    SEARCH_CANDIDATES,
                    filter.before,
                    filter.after
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        if found.len() >= SEARCH_CANDIDATES as usize || lowest <= 0 {
            break found;
        }
        window = window.saturating_mul(8);
    };
    // Each body split into words once, for the average length and for its relevance.
    let tokenized: Vec<(MessageId, Vec<String>)> = candidates
        .iter()
        .map(|(id, body)| (*id, words_of(body)))
        .collect();
    let average_len =
        tokenized.iter().map(|(_, t)| t.len() as f64).sum::<f64>() / tokenized.len().max(1) as f64;
    let mut ranked: Vec<(MessageId, f64)> = tokenized
        .iter()
        .map(|(id, tokens)| (*id, relevance(tokens, &words, average_len)))
        .collect();
    // Best first, newest first among equals.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    ranked.truncate(filter.limit.max(1) as usize);
    let mut hits = Vec::with_capacity(ranked.len());
    for (id, _) in ranked {
        let message = message(conn, id)?;
        // Cut from the text as shown, without its markup.
        let snippet = snippet(&chinwag_proto::text::plain(&message.body), &words);
        hits.push(chinwag_proto::rest::SearchHit { message, snippet });
    }
    Ok(hits)
}

/// Words of context kept on each side of the first match.
pub(crate) const SNIPPET_CONTEXT: usize = 10;

/// The part of `body` around its first matching word, cut into plain and matching pieces
/// (the index keeps no text or positions, so this works from the body itself). A word
/// matches as the index matched it: the same letters, ignoring case.
pub(crate) fn snippet(body: &str, words: &[String]) -> Vec<chinwag_proto::rest::SnippetPart> {
    let spans = word_spans(body);
    let is_hit = |(s, e): (usize, usize)| words.contains(&body[s..e].to_lowercase());
    let first = spans.iter().position(|&span| is_hit(span)).unwrap_or(0);
    let from = first.saturating_sub(SNIPPET_CONTEXT);
    let to = (first + SNIPPET_CONTEXT + 1).min(spans.len());
    let (cut_start, cut_end) = match (spans.get(from), spans.get(to.saturating_sub(1))) {
        (Some(a), Some(b)) if from > 0 || to < spans.len() => (a.0, b.1),
        _ => (0, body.len()),
    };
    let mut parts = Vec::new();
    let mut push = |text: &str, hit: bool| {
        if !text.is_empty() {
            parts.push(chinwag_proto::rest::SnippetPart {
                text: text.to_owned(),
                hit,
            });
        }
    };
    if cut_start > 0 {
        push("…", false);
    }
    let mut at = cut_start;
    for &(s, e) in spans[from..to].iter().filter(|&&span| is_hit(span)) {
        push(&body[at..s], false);
        push(&body[s..e], true);
        at = e;
    }
    push(&body[at..cut_end], false);
    if cut_end < body.len() {
        push("…", false);
    }
    parts
}
