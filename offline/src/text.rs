//! Plain-text helpers shared by the offline stand-ins: sentence splitting, word
//! tokens with byte offsets, content-word filtering, field sanitising and truncation.
//!
//! Everything here works on any `&str` (any script, control characters, megabytes
//! without punctuation) in time linear in its length, and slices only at offsets taken
//! from `char_indices`, so nothing can panic on a char boundary.

use super::lexicon;

/// Lines shorter than this (in chars) end a sentence at their newline: they are
/// headings, list items or table rows rather than text wrapped mid-sentence.
const SHORT_LINE: usize = 40;

/// Longest word, in chars, that can be part of a name or be a keyword.
pub(crate) const MAX_WORD_CHARS: usize = 40;

/// The sentences of `text`, trimmed, in order, none empty.
///
/// A sentence ends at `.`, `!`, `?` or `…` (plus closing quotes and brackets) when
/// whitespace and then something other than a lowercase letter follow, unless the full
/// stop closes an abbreviation ("Dr.", "e.g.") or an initial ("J. K. Rowling"); at
/// `。`, `！` and `？`; and at a newline that is not text wrapped mid-sentence.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut line_start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let mut next = i + 1;
        let cut = match c {
            '\n' => {
                let cut = newline_ends_sentence(&chars, line_start, i);
                line_start = i + 1;
                cut.then_some(pos)
            }
            '.' | '!' | '?' | '…' => {
                next = skip_closers(&chars, i + 1);
                terminator_ends_sentence(&chars, i, next).then(|| byte_at(text, &chars, next))
            }
            '。' | '！' | '？' => {
                next = skip_closers(&chars, i + 1);
                Some(byte_at(text, &chars, next))
            }
            _ => None,
        };
        if let Some(end) = cut {
            push_trimmed(&mut out, &text[start..end]);
            start = end;
        }
        i = next;
    }
    push_trimmed(&mut out, &text[start..]);
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    let piece = piece.trim();
    if !piece.is_empty() {
        out.push(piece);
    }
}

/// Byte offset of char index `i`, or the text length past the end.
fn byte_at(text: &str, chars: &[(usize, char)], i: usize) -> usize {
    chars.get(i).map_or(text.len(), |&(pos, _)| pos)
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | ')' | ']' | '}' | '.' | '!' | '?' | '…' | '*' | '_'
    )
}

fn skip_closers(chars: &[(usize, char)], mut i: usize) -> usize {
    while i < chars.len() && is_closer(chars[i].1) {
        i += 1;
    }
    i
}

/// Whether the terminator at `at`, whose closers end before `after`, ends a sentence.
fn terminator_ends_sentence(chars: &[(usize, char)], at: usize, after: usize) -> bool {
    if after < chars.len() && !chars[after].1.is_whitespace() {
        return false;
    }
    let following = chars[after..]
        .iter()
        .map(|&(_, c)| c)
        .find(|c| !c.is_whitespace());
    if following.is_some_and(char::is_lowercase) {
        return false;
    }
    chars[at].1 != '.' || !closes_abbreviation(chars, at)
}

/// Whether the full stop at `dot` ends an abbreviation or a one-letter initial.
fn closes_abbreviation(chars: &[(usize, char)], dot: usize) -> bool {
    let mut begin = dot;
    while begin > 0 && dot - begin <= 8 && chars[begin - 1].1.is_alphanumeric() {
        begin -= 1;
    }
    if begin == dot || dot - begin > 8 {
        return false;
    }
    let word: String = chars[begin..dot]
        .iter()
        .flat_map(|&(_, c)| c.to_lowercase())
        .collect();
    dot - begin == 1 && chars[begin].1.is_alphabetic() || lexicon::is_abbreviation(&word)
}

/// Whether the newline at `at` (ending the line that began at `line_start`) ends a
/// sentence. Only lines of running text that stop on a lowercase letter, a comma or a
/// hyphen are treated as wrapped.
fn newline_ends_sentence(chars: &[(usize, char)], line_start: usize, at: usize) -> bool {
    let line = &chars[line_start..at];
    let trimmed: Vec<char> = line
        .iter()
        .map(|&(_, c)| c)
        .skip_while(|c| c.is_whitespace())
        .collect();
    let last = trimmed.iter().rev().find(|c| !c.is_whitespace());
    let Some(&last) = last else { return true };
    if trimmed.len() < SHORT_LINE || starts_with_marker(&trimmed) {
        return true;
    }
    let next_line: Vec<char> = chars[at + 1..]
        .iter()
        .map(|&(_, c)| c)
        .take_while(|&c| c != '\n')
        .skip_while(|c| c.is_whitespace())
        .take(4)
        .collect();
    if next_line.is_empty() || starts_with_marker(&next_line) {
        return true;
    }
    !(last.is_lowercase() || matches!(last, ',' | '-' | '–' | '(' | '&' | ';'))
}

/// Markdown-ish line starts: headings, bullets, quotes, table rows, numbered items.
fn starts_with_marker(line: &[char]) -> bool {
    match line.first() {
        Some('#' | '-' | '*' | '•' | '>' | '|' | '+') => true,
        Some(c) if c.is_ascii_digit() => {
            let rest = line.iter().find(|c| !c.is_ascii_digit());
            matches!(rest, Some('.' | ')'))
        }
        _ => false,
    }
}

/// One word of a sentence: its text and byte range within that sentence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Word<'a> {
    /// The word itself.
    pub text: &'a str,
    /// Byte offset of its first char.
    pub start: usize,
    /// Byte offset just past its last char.
    pub end: usize,
}

/// Chars that may join two alphanumeric runs into one word ("Jean-Paul", "O'Brien",
/// "Node.js", "AT&T").
fn is_joiner(c: char) -> bool {
    matches!(c, '\'' | '’' | '-' | '.' | '&' | '_')
}

/// The words of `s`: maximal alphanumeric runs, joined across single inner
/// apostrophes, hyphens, dots, ampersands and underscores.
pub(crate) fn words(s: &str) -> Vec<Word<'_>> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].1.is_alphanumeric() {
            i += 1;
            continue;
        }
        let begin = i;
        i += 1;
        while i < chars.len() {
            let c = chars[i].1;
            let joins = is_joiner(c) && chars.get(i + 1).is_some_and(|&(_, n)| n.is_alphanumeric());
            if c.is_alphanumeric() {
                i += 1;
            } else if joins {
                i += 2;
            } else {
                break;
            }
        }
        if chars.get(i).is_some_and(|&(_, c)| c == '.') && is_dotted_initials(&chars[begin..i]) {
            i += 1;
        }
        let start = chars[begin].0;
        let end = byte_at(s, &chars, i);
        out.push(Word {
            text: &s[start..end],
            start,
            end,
        });
    }
    out
}

/// "U.S", "e.g": single letters separated by dots (the final dot then belongs to the
/// word too: "U.S.").
fn is_dotted_initials(chars: &[(usize, char)]) -> bool {
    chars.len() >= 3
        && chars.len() % 2 == 1
        && chars.iter().enumerate().all(|(k, &(_, c))| {
            if k % 2 == 0 {
                c.is_alphabetic()
            } else {
                c == '.'
            }
        })
}

/// `word` without a trailing possessive `'s` / `’s`.
pub(crate) fn strip_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("’s"))
        .or_else(|| word.strip_suffix("'S"))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(word)
}

/// Whether a lowercase word carries meaning on its own: it has three letters (or is
/// a number of at least four digits, like a year), is at most 40 chars long, and is
/// not a stop word or a calendar word.
pub(crate) fn is_content_word(lower: &str) -> bool {
    let count = lower.chars().count();
    if !(3..=MAX_WORD_CHARS).contains(&count) {
        return false;
    }
    let letters = lower.chars().filter(|c| c.is_alphabetic()).count();
    let is_year_like = count >= 4 && lower.chars().all(|c| c.is_ascii_digit());
    (letters >= 3 || is_year_like)
        && !lexicon::is_stop_word(lower)
        && !lexicon::is_calendar_word(lower)
}

/// A crude stem for matching query words with passage words: lowercase, without a
/// possessive, a plural `s` or an `-ied` ("studies", "studied" → "study"; "prizes" →
/// "prize").
pub(crate) fn stem(word: &str) -> String {
    let lower = strip_possessive(word).to_lowercase();
    let base = lower
        .strip_suffix("ies")
        .or_else(|| lower.strip_suffix("ied"));
    if let Some(base) = base.filter(|b| b.chars().count() >= 2) {
        return format!("{base}y");
    }
    if lower.chars().count() > 3
        && !lower.ends_with("ss")
        && !lower.ends_with("us")
        && let Some(base) = lower.strip_suffix('s')
    {
        return base.to_string();
    }
    lower
}

/// `text` made safe for one field of an extraction record: control chars and line
/// breaks become spaces, runs of whitespace collapse, and no `<|` or `|>` survives
/// (so neither does the `<|#|>` delimiter).
pub(crate) fn sanitize_field(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        match c {
            ' ' if out.is_empty() || out.ends_with(' ') => {}
            '|' if out.ends_with('<') => {}
            '>' => {
                while out.ends_with('|') {
                    out.pop();
                }
                out.push('>');
            }
            _ => out.push(c),
        }
    }
    out.trim_end().to_string()
}

/// Collapses all whitespace and control chars to single spaces, trimmed.
pub(crate) fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    for part in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if !part.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(part);
        }
    }
    out
}

/// A sentence for display: whitespace squashed and leading Markdown markers (heading
/// hashes, bullets, quote marks, table pipes, item numbers) removed.
pub(crate) fn display_sentence(sentence: &str) -> String {
    let squashed = squash(sentence);
    let mut rest = squashed.as_str();
    loop {
        let stripped = strip_marker(rest).trim_start();
        if stripped.len() == rest.len() {
            break;
        }
        rest = stripped;
    }
    if rest.is_empty() {
        squashed
    } else {
        rest.to_string()
    }
}

/// `line` without one leading Markdown marker, or unchanged.
fn strip_marker(line: &str) -> &str {
    let hashes = line.trim_start_matches('#');
    if hashes.len() != line.len() && (hashes.is_empty() || hashes.starts_with(' ')) {
        return hashes;
    }
    for marker in ["> ", "- ", "* ", "+ ", "• ", "| "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return rest;
        }
    }
    let digits = line.trim_start_matches(|c: char| c.is_ascii_digit());
    if digits.len() != line.len() && (digits.starts_with(". ") || digits.starts_with(") ")) {
        return &digits[2..];
    }
    line
}

/// `text` cut to at most `max` chars, preferably at a word boundary, with `…` marking
/// the cut (the ellipsis counts toward `max`).
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    let cut = text
        .char_indices()
        .nth(keep)
        .map_or(text.len(), |(pos, _)| pos);
    let head = &text[..cut];
    let head = match head.rfind(' ') {
        Some(space) if head[..space].chars().count() * 4 >= keep * 3 => &head[..space],
        _ => head,
    };
    format!("{}…", head.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_but_not_abbreviations_or_initials() {
        let text = "Dr. Smith met J. K. Rowling in the U.S. in 1999. They talked, e.g. about \
                    books! Then \"they left.\" Next one\nwraps here. 中文。好";
        let got = sentences(text);
        assert_eq!(
            got,
            vec![
                "Dr. Smith met J. K. Rowling in the U.S. in 1999.",
                "They talked, e.g. about books!",
                "Then \"they left.\"",
                "Next one\nwraps here.",
                "中文。",
                "好",
            ]
        );
    }

    #[test]
    fn headings_and_list_items_are_sentences() {
        let text = "# Introduction\nMarie Curie was a physicist\n- item one\n- item two";
        let got = sentences(text);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[1], "Marie Curie was a physicist");
    }

    #[test]
    fn wrapped_lines_stay_in_one_sentence() {
        let text = "This is a long line of running text that wraps in the middle of a\n\
                    sentence and continues on the next line.";
        assert_eq!(sentences(text).len(), 1);
    }

    #[test]
    fn words_keep_offsets_and_joiners() {
        let s = "Jean-Paul's Node.js, AT&T -- 3.14 x U.S. e.g. end.";
        let got: Vec<&str> = words(s).iter().map(|w| w.text).collect();
        assert_eq!(
            got,
            vec![
                "Jean-Paul's",
                "Node.js",
                "AT&T",
                "3.14",
                "x",
                "U.S.",
                "e.g.",
                "end"
            ]
        );
        for w in words(s) {
            assert_eq!(&s[w.start..w.end], w.text);
        }
    }

    #[test]
    fn sanitize_removes_every_delimiter_shape() {
        for input in [
            "a<|#|>b",
            "<<||>>",
            "||>",
            "<|||>",
            "x|>y<|z",
            "<|<|#|>|>",
            "line\nbreak\r\ttab\u{0}",
        ] {
            let out = sanitize_field(input);
            assert!(
                !out.contains("<|") && !out.contains("|>"),
                "{input:?} -> {out:?}"
            );
            assert!(!out.contains('\n') && !out.contains('\r') && !out.contains('\u{0}'));
        }
        assert_eq!(sanitize_field("  a \n b  "), "a b");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let text = "é".repeat(500);
        let cut = truncate_chars(&text, 300);
        assert_eq!(cut.chars().count(), 300);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_chars("short", 300), "short");
        let words = "word ".repeat(100);
        let cut = truncate_chars(&words, 50);
        assert!(cut.chars().count() <= 50 && cut.ends_with("word…"), "{cut}");
    }

    #[test]
    fn display_sentences_lose_markdown_markers() {
        assert_eq!(display_sentence("## Storage  backends"), "Storage backends");
        assert_eq!(
            display_sentence("- Neo4j\nand PostgreSQL"),
            "Neo4j and PostgreSQL"
        );
        assert_eq!(display_sentence("> 2. Quoted item"), "Quoted item");
        assert_eq!(display_sentence("| a | b |"), "a | b |");
        assert_eq!(display_sentence("-5 degrees"), "-5 degrees");
        assert_eq!(display_sentence("#hashtag"), "#hashtag");
        assert_eq!(display_sentence("---"), "---");
    }

    #[test]
    fn stems_match_plurals_and_possessives() {
        assert_eq!(stem("Studies"), "study");
        assert_eq!(stem("married"), "marry");
        assert_eq!(stem("prizes"), "prize");
        assert_eq!(stem("Curie's"), "curie");
        assert_eq!(stem("class"), "class");
        assert_eq!(stem("radius"), "radius");
    }
}
