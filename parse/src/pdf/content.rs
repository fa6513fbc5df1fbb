//! The content-stream interpreter: follows the graphics and text state of a page (or a
//! form XObject) and turns its text-showing operators into lines and words.
//!
//! PDF text has no lines or spaces as such: it is glyph runs placed at positions. A run
//! whose baseline is more than half a line away from where the previous run ended
//! starts a new line; a run that starts more than 0.15 em to the right of it (or far
//! to its left) is a new word. Where a run ends is estimated from the font's `/Widths`
//! (500/1000 em per glyph when unknown), as a viewer would place the next glyph.

use std::collections::HashMap;

use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

use super::lexer::Lexer;
use super::{MAX_STREAM, deref_dict, too_large};
use crate::text::Out;
use crate::{Options, ParseError};

/// Form XObjects drawn inside form XObjects.
const MAX_FORM_DEPTH: usize = 8;
/// Saved graphics states kept (`q` without `Q` beyond it only counts).
const MAX_SAVED_STATES: usize = 64;
/// What drawing one form XObject costs against the budget at least: a form drawn
/// many times over from nested forms must run out of budget quickly.
const MIN_FORM_CHARGE: usize = 1024;

/// Fixed-point scale of [`SingleByte::widths`].
const WIDTH_SCALE: f32 = 256.0;
/// The widest glyph a one-byte font's table keeps (in thousandths of the font size).
const MAX_WIDTH: f32 = 65_536.0;

/// What the interpreter needs of a font: its decoding, glyph widths for spacing, and
/// whether codes are two bytes (Type0 fonts).
struct Font<'a> {
    encoding: Option<Encoding<'a>>,
    first_char: u32,
    widths: Vec<f32>,
    two_byte: bool,
    /// For a font whose every code is one byte and one character: both per byte,
    /// looked up once (showing text is then a table lookup per byte).
    single: Option<Box<SingleByte>>,
}

/// A one-byte font's character and advance width of every code.
struct SingleByte {
    /// `'\0'`: the code shows nothing.
    chars: [char; 256],
    /// Widths in 1/256 of a text space unit, as integers: summing integers keeps
    /// the running total in a general register, where the sandbox's compiler does not
    /// spill it around every loop iteration's interruption check (float totals it
    /// does, which doubled the time of showing text there).
    widths: [i32; 256],
    /// Printable ASCII codes show themselves (the standard encodings): a string of
    /// them is its own text.
    ascii: bool,
}

impl SingleByte {
    /// The advance widths summed, the spaces counted, and whether any byte is not
    /// printable ASCII.
    ///
    /// A function of its own, kept out of line, with each measure its own simple
    /// loop: in the sandbox, every loop iteration may call out to check the CPU
    /// deadline, and the compiler keeps values live across that call on the stack.
    /// Inside the large `show`, or fused into one loop, the totals were stored and
    /// reloaded every few bytes; here the width sum is the only total of its loop and
    /// the byte tests vectorise sixteen bytes at a time.
    #[inline(never)]
    fn measure(&self, bytes: &[u8]) -> (i64, u32, bool) {
        let mut widths = 0i64;
        let mut eights = bytes.chunks_exact(8);
        for eight in &mut eights {
            let sum: i32 = eight.iter().map(|&b| self.widths[b as usize]).sum();
            widths += i64::from(sum);
        }
        for &b in eights.remainder() {
            widths += i64::from(self.widths[b as usize]);
        }
        let (mut spaces, mut unprintable) = (0u32, 0u8);
        // Byte-wide counters: a block of at most 255 cannot overflow one.
        for block in bytes.chunks(255) {
            spaces += u32::from(block.iter().fold(0u8, |n, &b| n + u8::from(b == b' ')));
            unprintable |= block
                .iter()
                .fold(0u8, |odd, &b| odd | u8::from(b.wrapping_sub(0x20) >= 0x5f));
        }
        (widths, spaces, unprintable != 0)
    }
}

impl Font<'_> {
    /// The per-byte tables, if every code of the font decodes to at most one character
    /// on its own (one-byte encodings, with or without differences).
    fn single_byte(&self) -> Option<Box<SingleByte>> {
        let encoding = self.encoding.as_ref()?;
        if self.two_byte
            || !matches!(
                encoding,
                Encoding::OneByteEncoding(_) | Encoding::Differences(_)
            )
        {
            return None;
        }
        let mut table = Box::new(SingleByte {
            chars: ['\0'; 256],
            widths: [0; 256],
            ascii: false,
        });
        let mut text = String::new();
        for code in 0..=255u8 {
            text.clear();
            encoding.write_to_string(&[code], &mut text).ok()?;
            let mut chars = text.chars();
            table.chars[code as usize] = match (chars.next(), chars.next()) {
                (None, _) => '\0',
                (Some(c), None) => c,
                (Some(_), Some(_)) => return None,
            };
            // Clamped so sixteen of them cannot overflow an i32 (real widths are
            // below 3,000).
            let width = self.width(u32::from(code)).min(MAX_WIDTH);
            table.widths[code as usize] = (width * WIDTH_SCALE).round() as i32;
        }
        table.ascii = (0x20..0x7f).all(|b: u8| table.chars[b as usize] == char::from(b));
        Some(table)
    }

    /// The advance of a code in text space units (thousandths of the font size).
    fn width(&self, code: u32) -> f32 {
        code.checked_sub(self.first_char)
            .and_then(|i| self.widths.get(i as usize).copied())
            .filter(|w| *w > 0.0)
            .unwrap_or(500.0)
    }
}

/// Document-wide extraction state: the decompression budget and the fonts decoded
/// so far (keyed by dictionary address: a font is decoded once however many pages
/// use it).
pub(super) struct Reader<'a> {
    doc: &'a Document,
    budget: u64,
    fonts: HashMap<usize, Font<'a>>,
    /// The form XObjects being drawn, outermost first (a form never draws itself).
    forms: Vec<ObjectId>,
    options: &'a Options,
    /// The decoded text of one string operand, reused: a page shows hundreds.
    scratch: String,
}

/// Text-drawing state for one content stream.
#[derive(Clone)]
struct State {
    ctm: [f32; 6],
    saved: Vec<[f32; 6]>,
    unsaved: usize,
    tm: [f32; 6],
    tlm: [f32; 6],
    leading: f32,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    scale: f32,
    font: Option<usize>,
    /// Where the last glyph run ended, in device space.
    end: Option<(f32, f32)>,
}

const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// The product `a × b` of two PDF affine matrices.
fn mul(a: [f32; 6], b: [f32; 6]) -> [f32; 6] {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

impl State {
    fn new() -> Self {
        Self {
            ctm: IDENTITY,
            saved: Vec::new(),
            unsaved: 0,
            tm: IDENTITY,
            tlm: IDENTITY,
            leading: 0.0,
            size: 12.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            font: None,
            end: None,
        }
    }

    fn next_line(&mut self, tx: f32, ty: f32) {
        self.tlm = mul([1.0, 0.0, 0.0, 1.0, tx, ty], self.tlm);
        self.tm = self.tlm;
    }
}

/// The numeric operands of an operation (missing or non-numeric ones as 0).
fn numbers<const N: usize>(operands: &[Object]) -> [f32; N] {
    let mut values = [0.0; N];
    for (value, operand) in values.iter_mut().zip(operands) {
        *value = operand.as_float().unwrap_or(0.0);
    }
    values
}

impl<'a> Reader<'a> {
    pub(super) fn new(doc: &'a Document, options: &'a Options) -> Self {
        Self {
            doc,
            budget: options.max_unpacked_bytes,
            fonts: HashMap::new(),
            forms: Vec::new(),
            scratch: String::new(),
            options,
        }
    }

    /// Appends the text of one page's content to `out`.
    pub(super) fn page(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        out: &mut Out,
    ) -> Result<(), ParseError> {
        self.run(content, resources, &mut State::new(), 0, out)
    }

    /// How much the next stream may inflate to.
    pub(super) fn allowance(&self) -> usize {
        self.budget.min(MAX_STREAM) as usize
    }

    pub(super) fn charge(&mut self, bytes: usize) -> Result<(), ParseError> {
        self.budget = self
            .budget
            .checked_sub(bytes as u64)
            .ok_or_else(|| too_large(self.options))?;
        Ok(())
    }

    /// Interprets one content stream, appending its text to `out`.
    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        state: &mut State,
        depth: usize,
        out: &mut Out,
    ) -> Result<(), ParseError> {
        // Damage is skipped over: the text around it is kept.
        let mut lexer = Lexer::new(content);
        while let Some(operator) = lexer.next_operator() {
            if out.is_full() {
                break;
            }
            let operands = lexer.operands();
            match operator {
                b"q" if state.saved.len() < MAX_SAVED_STATES => state.saved.push(state.ctm),
                b"q" => state.unsaved += 1,
                b"Q" if state.unsaved > 0 => state.unsaved -= 1,
                b"Q" => state.ctm = state.saved.pop().unwrap_or(state.ctm),
                b"cm" => state.ctm = mul(numbers::<6>(operands), state.ctm),
                b"BT" => {
                    state.tm = IDENTITY;
                    state.tlm = IDENTITY;
                }
                b"Tf" => {
                    state.size = operands
                        .get(1)
                        .and_then(|s| s.as_float().ok())
                        .unwrap_or(state.size);
                    state.font = match operands.first() {
                        Some(name) => self.font(resources, name)?,
                        None => None,
                    };
                }
                b"TL" => state.leading = numbers::<1>(operands)[0],
                b"Tc" => state.char_spacing = numbers::<1>(operands)[0],
                b"Tw" => state.word_spacing = numbers::<1>(operands)[0],
                b"Tz" => state.scale = numbers::<1>(operands)[0] / 100.0,
                b"Td" => {
                    let [tx, ty] = numbers::<2>(operands);
                    state.next_line(tx, ty);
                }
                b"TD" => {
                    let [tx, ty] = numbers::<2>(operands);
                    state.leading = -ty;
                    state.next_line(tx, ty);
                }
                b"Tm" => {
                    state.tlm = numbers::<6>(operands);
                    state.tm = state.tlm;
                }
                b"T*" => state.next_line(0.0, -state.leading),
                b"Tj" => self.show(operands.first(), state, out),
                b"'" => {
                    state.next_line(0.0, -state.leading);
                    self.show(operands.first(), state, out);
                }
                b"\"" => {
                    [state.word_spacing, state.char_spacing] = numbers::<2>(operands);
                    state.next_line(0.0, -state.leading);
                    self.show(operands.get(2), state, out);
                }
                b"TJ" => {
                    for item in operands
                        .first()
                        .and_then(|a| a.as_array().ok())
                        .into_iter()
                        .flatten()
                    {
                        match item {
                            Object::String(..) => self.show(Some(item), state, out),
                            _ => {
                                // A negative adjustment moves right: past a quarter em it
                                // is a word gap, which the next run's position reveals.
                                let adjust = item.as_float().unwrap_or(0.0);
                                let tx = -adjust / 1000.0 * state.size * state.scale;
                                state.tm = mul([1.0, 0.0, 0.0, 1.0, tx, 0.0], state.tm);
                            }
                        }
                    }
                }
                b"Do" if depth < MAX_FORM_DEPTH => {
                    self.form(operands.first(), resources, state, depth, out)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Draws a form XObject: its own content with its own resources, in a copy of
    /// the graphics state with the form's matrix applied.
    fn form(
        &mut self,
        name: Option<&Object>,
        resources: Option<&'a Dictionary>,
        state: &mut State,
        depth: usize,
        out: &mut Out,
    ) -> Result<(), ParseError> {
        let doc = self.doc;
        let Some(xobjects) = deref_dict(doc, resources.and_then(|r| r.get(b"XObject").ok())) else {
            return Ok(());
        };
        let Some(object) = name
            .and_then(|n| n.as_name().ok())
            .and_then(|n| xobjects.get(n).ok())
        else {
            return Ok(());
        };
        let Ok((id, Object::Stream(stream))) = doc.dereference(object) else {
            return Ok(());
        };
        if id.is_some_and(|id| self.forms.contains(&id)) {
            return Ok(());
        }
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form".as_slice()) {
            return Ok(());
        }
        let content = match stream.decompressed_content_with_limit(self.allowance()) {
            Ok(content) => content,
            Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                ..
            })) => {
                return Err(too_large(self.options));
            }
            Err(_) => return Ok(()),
        };
        self.charge(content.len().max(MIN_FORM_CHARGE))?;
        let own = deref_dict(doc, stream.dict.get(b"Resources").ok()).or(resources);
        let mut inner = state.clone();
        inner.saved.clear();
        inner.unsaved = 0;
        if let Ok(matrix) = stream.dict.get(b"Matrix").and_then(Object::as_array) {
            inner.ctm = mul(numbers::<6>(matrix), state.ctm);
        }
        self.forms.extend(id);
        let result = self.run(&content, own, &mut inner, depth + 1, out);
        if id.is_some() {
            self.forms.pop();
        }
        result?;
        state.end = inner.end;
        Ok(())
    }

    /// The font named `name` in `resources`, decoded on first use.
    fn font(
        &mut self,
        resources: Option<&'a Dictionary>,
        name: &Object,
    ) -> Result<Option<usize>, ParseError> {
        let doc = self.doc;
        let dict = resources
            .and_then(|r| deref_dict(doc, r.get(b"Font").ok()))
            .and_then(|fonts| deref_dict(doc, fonts.get(name.as_name().ok()?).ok()));
        let Some(dict) = dict else {
            return Ok(None);
        };
        let key = std::ptr::from_ref(dict) as usize;
        if self.fonts.contains_key(&key) {
            return Ok(Some(key));
        }
        // Charge the ToUnicode CMap lopdf will inflate, measured by inflating it within
        // the allowance first: a bomb CMap shared by many fonts is not free per font.
        if let Ok((_, Object::Stream(cmap))) =
            dict.get(b"ToUnicode").and_then(|o| doc.dereference(o))
        {
            match cmap.decompressed_content_with_limit(self.allowance()) {
                Ok(content) => self.charge(content.len())?,
                Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                })) => {
                    return Err(too_large(self.options));
                }
                Err(_) => {}
            }
        }
        let encoding = dict
            .get_font_encoding_with_limit(doc, self.allowance())
            .ok();
        let first_char = dict
            .get(b"FirstChar")
            .and_then(Object::as_i64)
            .unwrap_or(0)
            .clamp(0, 65535) as u32;
        let widths = deref_array(doc, dict.get(b"Widths").ok())
            .map(|w| {
                w.iter()
                    .take(65536)
                    .map(|o| o.as_float().unwrap_or(0.0))
                    .collect()
            })
            .unwrap_or_default();
        let two_byte =
            dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Type0".as_slice());
        let mut font = Font {
            encoding,
            first_char,
            widths,
            two_byte,
            single: None,
        };
        font.single = font.single_byte();
        self.fonts.insert(key, font);
        Ok(Some(key))
    }

    /// Shows a string: a line break or space before it when its position says so,
    /// then its decoded text, then the text position advanced past it.
    fn show(&mut self, string: Option<&Object>, state: &mut State, out: &mut Out) {
        let Some(Object::String(bytes, _)) = string else {
            return;
        };
        let font = state.font.and_then(|key| self.fonts.get(&key));
        let device = mul(state.tm, state.ctm);
        let (x, y) = (device[4], device[5]);
        let height = (state.size * device[2].hypot(device[3])).abs().max(1.0);
        if let Some((end_x, end_y)) = state.end {
            if (y - end_y).abs() > height * 0.5 {
                out.end_line();
            } else if (x - end_x > height * 0.15 || x < end_x - height) && !out.at_break() {
                out.push(' ');
            }
        }
        let text = &mut self.scratch;
        text.clear();
        let mut advance = 0.0;
        if let Some(single) = font.and_then(|f| f.single.as_deref()) {
            let (widths, spaces, unprintable) = single.measure(bytes);
            match std::str::from_utf8(bytes) {
                Ok(ascii) if single.ascii && !unprintable => text.push_str(ascii),
                _ => text.extend(
                    bytes
                        .iter()
                        .map(|&b| single.chars[b as usize])
                        .filter(|&c| c != '\0'),
                ),
            }
            advance = widths as f32 / WIDTH_SCALE / 1000.0 * state.size
                + bytes.len() as f32 * state.char_spacing
                + spaces as f32 * state.word_spacing;
            out.push_str(text);
        } else {
            match font.and_then(|f| f.encoding.as_ref()) {
                Some(encoding) if encoding.write_to_string(bytes, text).is_ok() => {}
                _ => {
                    text.clear();
                    text.extend(
                        bytes
                            .iter()
                            .filter(|b| b.is_ascii_graphic() || **b == b' ')
                            .map(|&b| char::from(b)),
                    );
                }
            }
            out.push_str(text);
            // Advance by the glyph widths, as a viewer would.
            let two_byte = font.is_some_and(|f| f.two_byte);
            let width = |code: u32| font.map_or(500.0, |f| f.width(code));
            if two_byte {
                for pair in bytes.chunks(2) {
                    let code = pair.iter().fold(0, |code, &b| code << 8 | u32::from(b));
                    advance += width(code) / 1000.0 * state.size + state.char_spacing;
                }
            } else {
                for &byte in bytes {
                    let code = u32::from(byte);
                    advance += width(code) / 1000.0 * state.size + state.char_spacing;
                    if code == 32 {
                        advance += state.word_spacing;
                    }
                }
            }
        }
        state.tm = mul([1.0, 0.0, 0.0, 1.0, advance * state.scale, 0.0], state.tm);
        let end = mul(state.tm, state.ctm);
        state.end = Some((end[4], end[5]));
    }
}

fn deref_array<'a>(doc: &'a Document, object: Option<&'a Object>) -> Option<&'a Vec<Object>> {
    doc.dereference(object?).ok()?.1.as_array().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SingleByte {
        let mut table = SingleByte {
            chars: ['\0'; 256],
            widths: [0; 256],
            ascii: true,
        };
        for code in 0..256 {
            // Fractional widths, as some fonts have: 250.5, 251.5, ...
            let width = 250.5 + code as f32;
            table.widths[code] = (width * WIDTH_SCALE).round() as i32;
        }
        table
    }

    #[test]
    fn measure_sums_widths_and_counts_spaces_across_block_ends() {
        let table = table();
        // 600 bytes: several 255-byte blocks and a remainder that is not a multiple of 8.
        let bytes: Vec<u8> = (0..600).map(|i| b"ab cd efg "[i % 10]).collect();
        let (widths, spaces, unprintable) = table.measure(&bytes);
        let expected: f64 = bytes.iter().map(|&b| 250.5 + f64::from(b)).sum();
        assert_eq!(widths as f64 / f64::from(WIDTH_SCALE), expected);
        assert_eq!(spaces, 180);
        assert!(!unprintable);
    }

    #[test]
    fn measure_sees_one_unprintable_byte_anywhere() {
        let table = table();
        for at in [0, 7, 254, 255, 599] {
            let mut bytes = vec![b'x'; 600];
            bytes[at] = 0x7f;
            assert!(table.measure(&bytes).2, "a DEL at {at} was missed");
            bytes[at] = 0xe9;
            assert!(table.measure(&bytes).2, "a Latin-1 byte at {at} was missed");
        }
    }
}
