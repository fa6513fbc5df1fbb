//! Repair of the record delimiter, which models spell in many broken ways.

/// Separates the fields of one record.
pub const TUPLE_DELIMITER: &str = "<|#|>";

/// Longest corrupted delimiter the repair step recognises, in characters. Bounding
/// it keeps the repair linear on long runs of `|` or `#`.
const MAX_DELIMITER_CHARS: usize = 16;

/// Rewrites every corrupted spelling of the delimiter in `line` as
/// [`TUPLE_DELIMITER`].
///
/// A delimiter is read as: an optional `<`, bars `|`, one or more cores `#`
/// (optionally escaped as `\#`, possibly several with bars between them:
/// `<|#|#|>`), bars, an optional `>`. Full-width `＜ ｜ ＃ ＞` count as their ASCII
/// forms (CJK input methods produce them), and spaces are tolerated once a `<` has
/// opened the delimiter (`< |#| >`, `<|# |>`). Recognised:
///
/// * with both `<` and `>`: anything of that shape, e.g. `<|##|>`, `<|\#|>`,
///   `<#|>`, `<|#>`, `<#>`, `<||#||>`, `<|#|#|>`, and `<|>`, `<||>` without a core;
/// * with `<` only: `<|#|`, `<|#||` (bars on both sides of the core), `<||`;
/// * with `>` only: `|#|>` (bars on both sides of the core);
/// * with neither: `||#||` (at least two bars on each side).
///
/// Shapes that ordinary text produces are left alone: a lone `|` or `｜` (tables,
/// CJK punctuation), `C#`, `| # |`, `a < b`, `<|endoftext|>`. The longest
/// recognised spelling at a position wins. Stray bars right after a delimiter
/// (`<|#|>|Name`) are swallowed.
pub(super) fn repair_delimiters(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match match_delimiter(&chars, i) {
            Some(mut end) => {
                if chars.get(end - 1).copied().is_some_and(is_close) {
                    let mut after = end;
                    while chars.get(after).copied().is_some_and(is_bar) {
                        after += 1;
                    }
                    if after > end && match_delimiter(&chars, end).is_none() {
                        end = after;
                    }
                }
                out.push_str(TUPLE_DELIMITER);
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// The end (exclusive) of the longest delimiter spelling starting at `start`, if
/// any; see [`repair_delimiters`] for the shapes.
fn match_delimiter(chars: &[char], start: usize) -> Option<usize> {
    let first = *chars.get(start)?;
    let opened = is_open(first);
    if !opened && !is_bar(first) {
        return None;
    }
    let limit = chars.len().min(start + MAX_DELIMITER_CHARS);
    let mut shape = Shape {
        opened,
        closed: false,
        bars_before: 0,
        bars_after: 0,
        cores: 0,
    };
    let mut best = None;
    let mut i = if opened { start + 1 } else { start };
    while i < limit {
        let c = chars[i];
        if is_close(c) {
            shape.closed = true;
            if shape.is_delimiter() {
                best = Some(i + 1);
            }
            break;
        }
        if c == ' ' || c == '\t' {
            // Spaces are part of a delimiter only inside `<…>`; a match never ends
            // on them (the field trimming takes care of spaces outside).
            if !opened {
                break;
            }
            i += 1;
            continue;
        }
        if is_bar(c) {
            if shape.cores == 0 {
                shape.bars_before += 1;
            } else {
                shape.bars_after += 1;
            }
            i += 1;
        } else if is_core(c) {
            shape.cores += 1;
            shape.bars_after = 0;
            i += 1;
        } else if c == '\\' && chars.get(i + 1).copied().is_some_and(is_core) {
            shape.cores += 1;
            shape.bars_after = 0;
            i += 2;
        } else {
            break;
        }
        if shape.is_delimiter() {
            best = Some(i);
        }
    }
    best
}

/// What a candidate delimiter spelling consists of so far.
struct Shape {
    opened: bool,
    closed: bool,
    /// Bars before the first core (all bars when there is no core).
    bars_before: u32,
    /// Bars after the last core.
    bars_after: u32,
    cores: u32,
}

impl Shape {
    /// Whether the spelling is a delimiter, not ordinary text: the fewer of `<`,
    /// `>` it has, the more bars it needs around the core.
    fn is_delimiter(&self) -> bool {
        let Shape {
            opened,
            closed,
            bars_before,
            bars_after,
            cores,
        } = *self;
        if cores == 0 {
            return opened
                && if closed {
                    bars_before >= 1
                } else {
                    bars_before >= 2
                };
        }
        match (opened, closed) {
            (true, true) => true,
            (true, false) | (false, true) => bars_before >= 1 && bars_after >= 1,
            (false, false) => bars_before >= 2 && bars_after >= 2,
        }
    }
}

fn is_open(c: char) -> bool {
    matches!(c, '<' | '＜')
}

fn is_close(c: char) -> bool {
    matches!(c, '>' | '＞')
}

fn is_bar(c: char) -> bool {
    matches!(c, '|' | '｜')
}

fn is_core(c: char) -> bool {
    matches!(c, '#' | '＃')
}
