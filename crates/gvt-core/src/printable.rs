//! Text from model files and from the model's answers, made inert before it reaches a
//! terminal or a log: a file's strings and token texts could otherwise carry escape
//! sequences that retitle or clear the terminal, or bidirectional overrides that make text
//! read differently from what it is. Such characters are shown as Rust escapes (`\u{1b}`).

use std::borrow::Cow;

/// Whether `c` changes how a terminal or a text renderer shows what follows it: control
/// characters (C0, DEL, C1) and the bidirectional formatting characters.
fn is_active(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_active(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_active(c) && !keep(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` for one line of output (a name, a key, a value): every control character escaped,
/// line breaks and tabs included.
pub fn one_line(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// `s` as running text (an answer, an error message): line breaks and tabs stay, every
/// other control character is escaped.
pub fn running_text(s: &str) -> Cow<'_, str> {
    escape(s, |c| matches!(c, '\n' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_overrides_become_visible() {
        // Sets the terminal title, clears the screen, and reverses the following text.
        let hostile = "name\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}txt.exe";
        assert_eq!(
            one_line(hostile),
            "name\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{202e}txt.exe"
        );
        assert_eq!(one_line("a\nb\tc\r"), "a\\u{a}b\\u{9}c\\u{d}");
        assert_eq!(running_text("a\nb\tc\r\u{9b}"), "a\nb\tc\\u{d}\\u{9b}");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["GVT Lens tiny", "Grüße, 世界 🦀", "<|im_start|>", ""] {
            assert!(matches!(one_line(s), Cow::Borrowed(t) if t == s));
        }
    }
}
