//! Input rules that need no I/O. Each returns the cleaned value or an [`Invalid`] naming
//! the field and saying what is wrong; it becomes an `invalid_field` [`ApiError`].

use crate::{ApiError, ErrorCode, EventId};

/// A field whose value is not acceptable, and why (a clause: "must not be empty").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Invalid {
            field,
            reason: reason.into(),
        }
    }
}

type Result<T> = std::result::Result<T, Invalid>;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const STATUS_TEXT_MAX: usize = 200;
pub const GROUP_NAME_MAX: usize = 80;
pub const CLIENT_ID_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
/// Hashing cost grows with length; nobody types more than this.
pub const PASSWORD_MAX: usize = 1024;
pub const GROUP_MEMBERS_MAX: usize = 1000;

/// Letters, digits, `.`, `_` and `-`; 3 to 32 characters. Compared case-insensitively.
pub fn username(raw: &str) -> Result<String> {
    let name = username_key_str(raw);
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(Invalid::new(
            "username",
            format!("must be {USERNAME_MIN} to {USERNAME_MAX} characters long"),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(Invalid::new(
            "username",
            "may contain only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(name.to_owned())
}

/// A `resume_from` cursor: an event id, so 0 or more. One past the newest is accepted (it
/// is what a client holds after its hub was restored from an older backup) and answered
/// with `synced` `reset`.
pub fn resume_from(from: Option<EventId>) -> Result<Option<EventId>> {
    match from {
        Some(id) if id.get() < 0 => Err(Invalid::new(
            "resume_from",
            "must be an event id: 0 or more",
        )),
        other => Ok(other),
    }
}

/// The one form of a username that sign-in, its throttle and registration compare: without
/// surrounding whitespace, in lower case (usernames are ASCII; the database compares them
/// case-insensitively). `" Alice\n"` and `"alice"` are the same account, and the same key
/// for the login throttle, so padding a name cannot buy fresh guesses.
pub fn username_key(raw: &str) -> String {
    username_key_str(raw).to_ascii_lowercase()
}

fn username_key_str(raw: &str) -> &str {
    raw.trim()
}

/// A one-line human text: invisible and direction-changing characters removed (see
/// [`is_invisible`]), trimmed, something visible in it unless it may be empty, no control
/// characters, within `max` characters.
pub fn line(field: &'static str, raw: &str, allow_empty: bool, max: usize) -> Result<String> {
    let text = strip_invisible(raw);
    let text = text.trim();
    if !allow_empty && !text.chars().any(is_visible) {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// Characters that show nothing but can disguise a name: Unicode's default-ignorable code
/// points (zero-width spaces and joiners, bidirectional overrides and isolates such as
/// U+202E, which makes `"\u{202E}nimda"` read "admin", soft hyphens, fillers, tags). The
/// zero-width joiner and the emoji variation selectors stay: emoji sequences (👩‍💻, ❤️) need
/// them.
pub fn is_invisible(c: char) -> bool {
    use unicode_security::general_security_profile::IdentifierType;
    use unicode_security::GeneralSecurityProfile;
    !holds_emoji_together(c) && c.identifier_type() == Some(IdentifierType::Default_Ignorable)
}

/// The zero-width joiner and the variation selectors: they show nothing, but emoji need them.
fn holds_emoji_together(c: char) -> bool {
    matches!(c, '\u{200D}' | '\u{FE0E}' | '\u{FE0F}')
}

/// `raw` without its [`is_invisible`] characters.
pub fn strip_invisible(raw: &str) -> String {
    raw.chars().filter(|c| !is_invisible(*c)).collect()
}

/// Something a reader sees: not white space, not a joiner or variation selector alone.
fn is_visible(c: char) -> bool {
    !c.is_whitespace() && !is_invisible(c) && !holds_emoji_together(c)
}

/// What two names that look alike have in common, by Unicode's confusable skeleton (UTS 39,
/// the `unicode-security` crate): `"аlice"` with a Cyrillic а, `"ALICE"`, `"a1ice"` and
/// `"alice"` share a key, and so do `"rn"` and `"m"`. Two keys, because case and look-alikes
/// interfere (`I` looks like `l`, but lower-cased it is `i`): the skeleton of the name as
/// written, and of the name in lower case, each lower-cased, runs of white space as one.
/// Names look alike when either key is the same.
pub fn look_alike_keys(name: &str) -> [String; 2] {
    let key = |text: &str| -> String {
        let skeleton: String = unicode_security::skeleton(text).collect();
        let lower = skeleton.to_lowercase();
        lower.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    [key(name), key(&name.to_lowercase())]
}

/// Whether two names look alike (see [`look_alike_keys`]).
pub fn look_alike(a: &[String; 2], b: &[String; 2]) -> bool {
    a[0] == b[0] || a[1] == b[1]
}

pub fn display_name(raw: &str) -> Result<String> {
    line("display_name", raw, false, DISPLAY_NAME_MAX)
}

pub fn status_text(raw: &str) -> Result<String> {
    line("status_text", raw, true, STATUS_TEXT_MAX)
}

pub fn group_name(raw: &str) -> Result<String> {
    line("name", raw, false, GROUP_NAME_MAX)
}

pub fn password(raw: &str) -> Result<()> {
    let len = raw.chars().count();
    if len < PASSWORD_MIN {
        return Err(Invalid::new(
            "password",
            format!("must be at least {PASSWORD_MIN} characters long"),
        ));
    }
    if raw.len() > PASSWORD_MAX {
        return Err(Invalid::new(
            "password",
            format!("must be at most {PASSWORD_MAX} bytes long"),
        ));
    }
    Ok(())
}

/// A client-chosen id: 1 to 64 visible ASCII characters.
pub fn client_id(raw: &str) -> Result<()> {
    if raw.is_empty() || raw.len() > CLIENT_ID_MAX {
        return Err(Invalid::new(
            "client_id",
            format!("must be 1 to {CLIENT_ID_MAX} characters long"),
        ));
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Invalid::new(
            "client_id",
            "may contain only visible ASCII characters",
        ));
    }
    Ok(())
}

/// A message body: at most `max_bytes` of UTF-8, no control characters other than newline
/// and tab, and not blank unless `may_be_empty` (a message carrying files). Kept as typed
/// (not trimmed) so that code blocks keep their shape.
pub fn message_body(raw: &str, max_bytes: usize, may_be_empty: bool) -> Result<()> {
    if raw.len() > max_bytes {
        return Err(Invalid::new(
            "body",
            format!("is {} bytes; the limit is {max_bytes}", raw.len()),
        ));
    }
    if raw.trim().is_empty() && !may_be_empty {
        return Err(Invalid::new("body", "must not be empty"));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(Invalid::new(
            "body",
            "must not contain control characters other than newline and tab",
        ));
    }
    Ok(())
}

/// Most different emoji on one message.
pub const MAX_REACTIONS_PER_MESSAGE: usize = 20;
/// Most different emoji one person puts on one message.
pub const MAX_REACTIONS_PER_PERSON: usize = 10;

/// A reaction is one emoji of the Unicode emoji set (with a skin tone or not), as listed at
/// `GET /api/v1/emoji`: not text, not two emoji, not an emoji with anything around it.
/// Returns its fully qualified form (`❤` is `❤️`), so that one emoji is one reaction.
pub fn reaction(raw: &str) -> Result<&'static str> {
    if let Some(emoji) = emojis::get(raw).filter(|_| raw.len() <= 64) {
        return Ok(emoji.as_str());
    }
    let shown: String = raw.chars().take(16).collect();
    Err(Invalid::new(
        "emoji",
        format!("must be one emoji (got {shown:?})"),
    ))
}

/// Every emoji a reaction may be, in Unicode's order, for pickers and `:shortcode:`
/// completion (`GET /api/v1/emoji`); skin-tone variants are not listed, but are accepted.
pub fn emoji_list() -> Vec<crate::rest::EmojiEntry> {
    use emojis::Group as G;
    emojis::iter()
        .map(|e| crate::rest::EmojiEntry {
            emoji: e.as_str().to_owned(),
            name: e.name().to_owned(),
            shortcodes: e.shortcodes().map(str::to_owned).collect(),
            group: match e.group() {
                G::SmileysAndEmotion => "Smileys & Emotion",
                G::PeopleAndBody => "People & Body",
                G::AnimalsAndNature => "Animals & Nature",
                G::FoodAndDrink => "Food & Drink",
                G::TravelAndPlaces => "Travel & Places",
                G::Activities => "Activities",
                G::Objects => "Objects",
                G::Symbols => "Symbols",
                G::Flags => "Flags",
            }
            .to_owned(),
        })
        .collect()
}

/// Refuses a message body over `max` bytes with `too_large`, naming both sizes. Checked
/// before anything else, so an oversized message is refused as such, not as invalid.
pub fn message_size(body: &str, max: usize) -> std::result::Result<(), ApiError> {
    if body.len() > max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "The message is {} bytes; the limit is {max} bytes.",
                body.len()
            ),
        ));
    }
    Ok(())
}

/// Refuses an upload by its declared size: over `limit` bytes, or empty. `None` (a chunked
/// body) passes; the size is then checked as the bytes arrive.
pub fn declared_upload(declared: Option<u64>, limit: u64) -> std::result::Result<(), ApiError> {
    match declared {
        Some(n) if n > limit => Err(upload_too_large(limit)),
        Some(0) => Err(empty_file()),
        _ => Ok(()),
    }
}

/// The refusal of an upload over `limit` bytes.
pub fn upload_too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!(
            "The file is larger than this hub's limit of {}.",
            human_size(limit)
        ),
    )
}

/// The refusal of an empty upload.
pub fn empty_file() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidField,
        "The file is empty; there is nothing to send.",
    )
}

/// A size as people read it in a refusal: whole megabytes as "N MB", else bytes.
pub fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Longest reason a report may give, in characters.
pub const MAX_REPORT_REASON: usize = 500;

/// A report's reason: trimmed, at most [`MAX_REPORT_REASON`] characters, no control
/// characters but newlines. It may be empty.
pub fn report_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.chars().count() > MAX_REPORT_REASON {
        return Err(Invalid::new(
            "reason",
            format!("a report's reason is at most {MAX_REPORT_REASON} characters"),
        ));
    }
    if reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::new(
            "reason",
            "a report's reason must not contain control characters",
        ));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(username("  Alice_1 ").expect("valid"), "Alice_1");
        assert!(username("al").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("al ice").is_err());
        assert!(username("ålice").is_err());
        assert!(username("a/b").is_err());
    }

    #[test]
    fn names_lose_what_cannot_be_seen() {
        assert_eq!(display_name("\u{202E}nimda").as_deref(), Ok("nimda"));
        assert_eq!(
            display_name("al\u{200B}ice\u{2066}").as_deref(),
            Ok("alice")
        );
        for invisible in [
            "\u{200B}\u{200C}",
            "\u{200D}",
            " \u{FEFF} ",
            "\u{2060}\u{FE0F}",
        ] {
            assert_eq!(
                display_name(invisible).map_err(|e| e.reason),
                Err("must not be empty".into()),
                "{invisible:?}"
            );
        }
        // Emoji sequences keep their joiners and selectors.
        assert_eq!(
            display_name("Ada 👩\u{200D}💻").as_deref(),
            Ok("Ada 👩\u{200D}💻")
        );
        assert_eq!(
            group_name("Team ❤\u{FE0F}").as_deref(),
            Ok("Team ❤\u{FE0F}")
        );
    }

    #[test]
    fn look_alikes_share_a_key() {
        let alice = look_alike_keys("alice");
        for same in [
            "\u{0430}lice",
            "ALICE",
            "Alice",
            "aIice",
            "a1ice",
            "alic\u{0435}",
        ] {
            assert!(look_alike(&alice, &look_alike_keys(same)), "{same:?}");
        }
        for other in ["alicia", "bob", "al ice"] {
            assert!(!look_alike(&alice, &look_alike_keys(other)), "{other:?}");
        }
        assert!(look_alike(
            &look_alike_keys("rnary"),
            &look_alike_keys("mary")
        ));
        assert!(look_alike(
            &look_alike_keys("Alice  Martin"),
            &look_alike_keys("alice martin")
        ));
    }

    #[test]
    fn lines() {
        assert_eq!(display_name(" Alice ").expect("valid"), "Alice");
        assert!(display_name("   ").is_err());
        assert!(display_name("a\u{7}b").is_err());
        assert!(display_name(&"é".repeat(65)).is_err());
        assert!(display_name(&"é".repeat(64)).is_ok());
        assert_eq!(status_text("").expect("empty ok"), "");
    }

    #[test]
    fn passwords() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn bodies() {
        assert!(message_body("hi", 16, false).is_ok());
        assert!(message_body("line\n\tindented", 64, false).is_ok());
        assert!(message_body(" \n ", 16, false).is_err());
        assert!(message_body("", 16, true).is_ok(), "a message with files");
        assert!(message_body("x\u{0}y", 16, false).is_err());
        assert!(
            message_body(&"é".repeat(9), 16, false).is_err(),
            "limit is in bytes"
        );
        assert!(message_body(&"é".repeat(8), 16, false).is_ok());
    }

    #[test]
    fn client_ids() {
        assert!(client_id("c-1").is_ok());
        assert!(client_id("").is_err());
        assert!(client_id("has space").is_err());
        assert!(client_id(&"x".repeat(65)).is_err());
    }
}

#[cfg(test)]
mod reaction_tests {
    use super::reaction;

    #[test]
    fn a_reaction_is_one_emoji_and_nothing_else() {
        for ok in ["👍", "❤️", "👍🏽", "🇫🇷", "👩‍💻", "🎉"] {
            assert_eq!(reaction(ok).ok(), Some(ok), "{ok}");
        }
        assert_eq!(
            reaction("\u{2764}").ok(),
            Some("\u{2764}\u{fe0f}"),
            "one heart, qualified"
        );
        for bad in [
            "",
            "+1",
            ":thumbsup:",
            "👍👍",
            " 👍",
            "👍 ",
            "a",
            "<b>",
            "👍\u{200b}",
            "\u{fe0f}",
        ] {
            assert!(reaction(bad).is_err(), "{bad:?}");
        }
        assert!(reaction(&"👍".repeat(100)).is_err());
    }
}
