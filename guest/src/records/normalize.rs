//! Normalisation of the fields of a record: entity names, types and keywords.

use super::delimiters::TUPLE_DELIMITER;

/// Longest entity name kept, in characters (LightRAG's default limit). Longer names
/// are truncated: they are almost always a model pasting a sentence into the name
/// field, and names are storage keys that must stay small.
pub const MAX_NAME_CHARS: usize = 256;

/// Entity types a JavaScript client would trip over when they are used as object
/// keys (the WebUI groups nodes by type); LightRAG refuses them for that reason.
pub(super) const FORBIDDEN_TYPES: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// Characters that make a "type" look like prose, markup or a path rather than a
/// category word; such a type means the model misplaced a field.
pub(super) const FORBIDDEN_TYPE_CHARS: [char; 8] = ['\'', '(', ')', '<', '>', '|', '/', '\\'];

/// Normalises an entity name the way LightRAG does, so that the same entity
/// spelled slightly differently lands on the same graph node:
///
/// * HTML line/paragraph tags (`<p>`, `</p>`, `<br>`, `<br/>`) are removed: models
///   copy them from HTML-ish sources;
/// * full-width ASCII (U+FF01..U+FF5E, e.g. `Ａｐｐｌｅ１`) becomes ASCII;
/// * whitespace (NBSP and the ideographic space included) collapses to single
///   spaces and is trimmed;
/// * one pair of matching outer quotes is removed (`"…"`, `'…'`, `“…”`, `‘…’`,
///   `《…》`, `「…」`), unless the inside contains that quote too (`"A" and "B"`);
/// * curly quotes anywhere, and straight quotes next to a CJK character, are
///   removed (Chinese text quotes terms inline, the quotes are not part of them);
/// * spaces between two CJK characters, or between a CJK character and an ASCII
///   letter or digit, are removed (`中 国` → `中国`, `苹果 AI` → `苹果AI`): Chinese
///   does not separate words, models insert such spaces inconsistently;
/// * the result is truncated to [`MAX_NAME_CHARS`] characters.
///
/// Returns `None` when nothing meaningful is left: an empty name, a bare number of
/// one or two digits (list numbering, footnote marks), or a short run of digits and
/// dots such as `1.2` or `3.1.4` (section numbers). Longer numbers such as years
/// (`2024`) are kept. Case is preserved.
pub fn normalize_name(raw: &str) -> Option<String> {
    let text = strip_html_breaks(raw);
    let text: String = text.chars().map(fullwidth_to_ascii).collect();
    let text = collapse_whitespace(&text);
    let text = strip_outer_quote_pair(&text);
    let text = remove_inner_quotes(text);
    let text = collapse_whitespace(&text);
    let text = remove_cjk_spaces(&text);
    if is_meaningless_name(&text) {
        return None;
    }
    let name = truncate_chars(&text, MAX_NAME_CHARS).trim_end();
    // Removing an HTML tag could have joined a delimiter back together
    // (`<|#<p>|>`): such a name could never be written back into a record.
    if name.is_empty() || name.contains(TUPLE_DELIMITER) {
        return None;
    }
    Some(name.to_string())
}

/// Normalises an entity type so that `Person`, `"person"` and `PERSON` are one
/// type, and `Natural Object` becomes `naturalobject` (LightRAG's convention).
///
/// Quotes are removed first (models quote types). A type that is blank or contains
/// one of `' ( ) < > | / \` is refused: it is a sentence, markup or a misplaced
/// field, not a category. `a, b` means the model could not decide: the first
/// non-empty part is kept. Names that break JavaScript objects are refused.
pub(super) fn normalize_type(raw: &str) -> Option<String> {
    let unquoted: String = raw
        .chars()
        .map(fullwidth_to_ascii)
        .filter(|c| !matches!(c, '"' | '“' | '”' | '‘' | '’'))
        .collect();
    let unquoted = unquoted.trim();
    if unquoted.is_empty() || unquoted.contains(FORBIDDEN_TYPE_CHARS) {
        return None;
    }
    let first = unquoted
        .split(',')
        .map(str::trim)
        .find(|part| !part.is_empty())?;
    let entity_type: String = first
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if entity_type.is_empty() || FORBIDDEN_TYPES.contains(&entity_type.as_str()) {
        return None;
    }
    Some(entity_type)
}

/// Keywords are free text, only tidied: double quotes (straight or curly) are
/// removed, curly apostrophes become `'`, the full-width comma `，` becomes `,` (so
/// Chinese keyword lists split like English ones), whitespace collapses.
pub(super) fn normalize_keywords(raw: &str) -> String {
    let tidied: String = raw
        .chars()
        .filter(|c| !matches!(c, '"' | '“' | '”'))
        .map(|c| match c {
            '，' => ',',
            '‘' | '’' => '\'',
            other => other,
        })
        .collect();
    collapse_whitespace(&tidied)
}

/// Removes one pair of matching straight or curly quotes around a field; models
/// quote fields as if writing a tuple literal.
pub(super) fn strip_matching_quotes(field: &str) -> &str {
    for (open, close) in [('"', '"'), ('\'', '\''), ('“', '”'), ('‘', '’')] {
        if let Some(inner) = field
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            return inner.trim();
        }
    }
    field
}

/// Removes `<p>`, `</p>`, `<p/>`, `<br>`, `<br/>`, `<br />`, `</br>` (any case).
fn strip_html_breaks(text: &str) -> String {
    /// Longest tag body looked at (`br /` plus slack); bounds the scan per `<`.
    const MAX_TAG_BODY: usize = 8;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.bytes().take(MAX_TAG_BODY + 1).position(|b| b == b'>');
        match close {
            // `close` is the offset of an ASCII `>`, hence a char boundary.
            Some(close) if is_break_tag(&after[..close]) => rest = &after[close + 1..],
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_break_tag(body: &str) -> bool {
    let body: String = body
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(body.as_str(), "p" | "/p" | "p/" | "br" | "/br" | "br/")
}

/// Full-width ASCII forms (U+FF01..U+FF5E) to ASCII (U+0021..U+007E).
fn fullwidth_to_ascii(c: char) -> char {
    if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
        char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// Whitespace runs (any Unicode whitespace: NBSP, ideographic space, newlines) to
/// one space; trimmed.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes one pair of matching outer quotes when the inside does not contain the
/// same quote characters (`"A" and "B"` is left alone: its quotes are not outer).
fn strip_outer_quote_pair(text: &str) -> String {
    const PAIRS: [(char, char); 6] = [
        ('"', '"'),
        ('\'', '\''),
        ('“', '”'),
        ('‘', '’'),
        ('《', '》'),
        ('「', '」'),
    ];
    for (open, close) in PAIRS {
        if let Some(inner) = text
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
            && !inner.contains([open, close])
        {
            return inner.trim().to_string();
        }
    }
    text.to_string()
}

/// Removes curly quotes everywhere, and runs of straight quotes that touch a CJK
/// character (`"苹果"公司` → `苹果公司`). Straight quotes between Latin letters stay
/// (`O'Brien`).
fn remove_inner_quotes(text: String) -> String {
    let chars: Vec<char> = text
        .chars()
        .filter(|c| !matches!(c, '“' | '”' | '‘' | '’'))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !matches!(chars[i], '"' | '\'') {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run_start = i;
        while i < chars.len() && matches!(chars[i], '"' | '\'') {
            i += 1;
        }
        let cjk_before = run_start > 0 && is_cjk(chars[run_start - 1]);
        let cjk_after = chars.get(i).copied().is_some_and(is_cjk);
        if !(cjk_before || cjk_after) {
            out.extend(&chars[run_start..i]);
        }
    }
    out
}

/// Removes the (single, already collapsed) spaces between two CJK characters and
/// between a CJK character and an ASCII letter or digit, in either order.
fn remove_cjk_spaces(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' && i > 0 && i + 1 < chars.len() {
            let (before, after) = (chars[i - 1], chars[i + 1]);
            let joins = (is_cjk(before) && (is_cjk(after) || after.is_ascii_alphanumeric()))
                || (before.is_ascii_alphanumeric() && is_cjk(after));
            if joins {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// CJK unified ideographs (basic block, extension A, compatibility ideographs).
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// Empty names, bare one- or two-digit numbers, and short digit-and-dot strings
/// (`1.2`, `3.1.4`) are list or section numbering, not entities.
fn is_meaningless_name(name: &str) -> bool {
    let count = name.chars().count();
    let all_digits = name.chars().all(|c| c.is_ascii_digit());
    let digits_and_dots = name.chars().all(|c| c.is_ascii_digit() || c == '.');
    name.is_empty()
        || (all_digits && count <= 2)
        || (count < 6 && digits_and_dots && name.contains('.'))
}

/// The first `max` characters of `text` (cut at a char boundary).
fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

#[cfg(test)]
mod tests;
