//! Message text from the network: reading it back without markup and finding its mentions
//! never panics, whatever arrives, and text without markup stays what it was.

use chinwag_proto::text::{mentioned, plain, MAX_MENTIONED_NAMES};
use proptest::prelude::*;

/// Text that leans on what Markdown and mentions care about.
fn markdownish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("*".to_owned()),
            Just("_".to_owned()),
            Just("`".to_owned()),
            Just("~~".to_owned()),
            Just("> ".to_owned()),
            Just("- ".to_owned()),
            Just("1. ".to_owned()),
            Just("\n".to_owned()),
            Just("[".to_owned()),
            Just("](".to_owned()),
            Just(")".to_owned()),
            Just("<".to_owned()),
            Just("&amp;".to_owned()),
            Just("@".to_owned()),
            Just("@here".to_owned()),
            "[a-z]{1,6}",
            "\\PC{1,3}",
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn any_text_is_read_without_panicking(body in prop_oneof![markdownish(), any::<String>()]) {
        let text = plain(&body);
        prop_assert!(text.len() <= body.len() * 2 + 16, "no blow-up: {} from {}", text.len(), body.len());
        let (names, _, _) = mentioned(&body);
        prop_assert!(names.len() <= MAX_MENTIONED_NAMES);
        for name in names {
            prop_assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        }
    }

    #[test]
    fn text_without_markup_stays_as_it_is(body in "[a-zA-Z0-9 ,?']{0,80}") {
        prop_assert_eq!(plain(&body), body.trim());
    }
}
