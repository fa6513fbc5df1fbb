//! Builders for small documents, shared by the unit tests, `examples/make_fixtures.rs`
//! and `examples/pdf_pages.rs` so that there is exactly one hand-written PDF writer
//! and one zip helper. Not part of the supported API (hidden from the docs); nothing
//! in the parsing path uses it.

use std::fmt::Write as _;
use std::io::Write as _;

/// A minimal PDF 1.4 writer: numbered objects, a correct cross-reference table and a
/// trailer. Object bodies are written verbatim, so tests can build deliberately broken
/// files (cycles, deep nesting, lying stream lengths) as easily as good ones.
#[derive(Default)]
pub struct PdfBuilder {
    objects: Vec<Vec<u8>>,
}

impl PdfBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves the next object number; fill it later with [`PdfBuilder::set`].
    pub fn reserve(&mut self) -> u32 {
        self.objects.push(Vec::new());
        self.objects.len() as u32
    }

    /// Appends an object and returns its number.
    pub fn add(&mut self, body: impl Into<Vec<u8>>) -> u32 {
        self.objects.push(body.into());
        self.objects.len() as u32
    }

    pub fn set(&mut self, number: u32, body: impl Into<Vec<u8>>) {
        self.objects[number as usize - 1] = body.into();
    }

    /// The body of a stream object with an honest `/Length`.
    pub fn stream(extra_dict: &str, data: &[u8]) -> Vec<u8> {
        let mut body = format!("<< /Length {} {extra_dict} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        body
    }

    /// Serialises the file with `root` as the catalog and `trailer_extra` appended
    /// inside the trailer dictionary (e.g. `/Encrypt 9 0 R`).
    pub fn finish(&self, root: u32, trailer_extra: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(self.objects.len());
        for (index, body) in self.objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref_at = out.len();
        let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", self.objects.len() + 1);
        for offset in offsets {
            let _ = writeln!(xref, "{offset:010} 00000 n ");
        }
        let _ = write!(
            xref,
            "trailer\n<< /Size {} /Root {root} 0 R {trailer_extra} >>\nstartxref\n{xref_at}\n%%EOF\n",
            self.objects.len() + 1
        );
        out.extend_from_slice(xref.as_bytes());
        out
    }
}

/// Escapes text for a PDF literal string `( … )`.
pub fn pdf_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A page content stream showing each line with `Tj`, one line below the other.
pub fn page_content(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT\n/F1 12 Tf\n14 TL\n72 720 Td\n");
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            content.push_str("T*\n");
        }
        let _ = writeln!(content, "({}) Tj", pdf_string(line));
    }
    content.push_str("ET\n");
    content.into_bytes()
}

/// A well-formed PDF with one page per entry of `pages`, each page a list of lines set
/// in Helvetica with WinAnsiEncoding. Content streams are Flate-compressed when
/// `compress` is set, as real producers do.
pub fn text_pdf(pages: &[Vec<&str>], compress: bool) -> Vec<u8> {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let font = pdf
        .add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
    let mut kids = String::new();
    for lines in pages {
        let raw = page_content(lines);
        let body = if compress {
            PdfBuilder::stream("/Filter /FlateDecode", &deflate(&raw))
        } else {
            PdfBuilder::stream("", &raw)
        };
        let content = pdf.add(body);
        let page = pdf.add(format!(
            "<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 612 792] \
             /Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>"
        ));
        let _ = write!(kids, "{page} 0 R ");
    }
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{kids}] /Count {} >>", pages.len()),
    );
    pdf.finish(catalog, "")
}

/// zlib-compresses `data` (the PDF FlateDecode format).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A zip archive holding `entries` (name, content) in order, deflate-compressed except
/// for an entry named `mimetype`, which OpenDocument and EPUB require to be stored.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = ::zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        let method = if *name == "mimetype" {
            ::zip::CompressionMethod::Stored
        } else {
            ::zip::CompressionMethod::Deflated
        };
        // A fixed timestamp keeps regenerated fixtures byte-identical.
        let mut options = ::zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(::zip::DateTime::default());
        if method == ::zip::CompressionMethod::Deflated {
            options = options.compression_level(Some(9));
        }
        if writer.start_file(*name, options).is_err() || writer.write_all(content).is_err() {
            return Vec::new();
        }
    }
    writer
        .finish()
        .map(|cursor| cursor.into_inner())
        .unwrap_or_default()
}

/// The committed sample fixtures (`tests/fixtures/files/`) and the sentences each one
/// holds, in order. `examples/make_fixtures.rs` writes the files from this table and the
/// fixture test asserts each sentence, so the two cannot drift apart.
pub const SAMPLES: &[(&str, &[&str])] = &[
    (
        "encrypted.pdf",
        &["Nightjar Cipherworks guards the Tollmere vault."],
    ),
    (
        "sample.pdf",
        &[
            "Zorbulax Industries builds tidal turbines on the coast of Veltmark.",
            "Quenthara Labs tests every Zorbulax turbine in the cold waters of Lake Ossifer.",
        ],
    ),
    (
        "sample.docx",
        &["Mirelda Voss founded the Brantholm Seed Library in 1987."],
    ),
    (
        "sample.pptx",
        &[
            "Korvath Aerospace launched the Dremmel probe toward Jupiter.",
            "The Dremmel probe carries a spectrometer built by Ilvane Optics.",
        ],
    ),
    (
        "sample.xlsx",
        &["Thessaly Grain Cooperative ships barley to Orvik Breweries."],
    ),
    (
        "sample.odt",
        &["The Pellucid Order of Cartographers mapped the Saltreach Archipelago."],
    ),
    (
        "sample.epub",
        &["Captain Ysolde Marrow sailed the Gloamwater in search of amber."],
    ),
    (
        "sample.rtf",
        &["Hollowmere Textiles weaves sailcloth from Drennic flax."],
    ),
    (
        "sample.html",
        &["Vantrell Observatory discovered the comet Ashgrove-7 in March."],
    ),
    (
        "sample.xml",
        &["The Obrenwald Railway connects Tessik and Marrowgate."],
    ),
    (
        "sample.csv",
        &["Fenwick Apiaries sells heather honey in Dunmarrow."],
    ),
    (
        "sample.json",
        &["Glimmerfen Robotics assembles pollinator drones in Osterhal."],
    ),
    (
        "sample.textpack",
        &["Ravencroft Ferries carries passengers between Islay Point and Corrowby."],
    ),
];

/// The user password of the committed `encrypted.pdf`.
pub const FIXTURE_PASSWORD: &str = "lantern";

/// A one-page PDF showing `line`, encrypted with RC4 (128-bit keys) under
/// `user_password` (owner password `owner`). Deterministic: the file id is fixed.
pub fn encrypted_pdf(line: &str, user_password: &str) -> Vec<u8> {
    let plain = text_pdf(&[vec![line]], false);
    let mut doc = lopdf::Document::load_mem(&plain).expect("our own PDF loads");
    let id = lopdf::Object::string_literal(b"0123456789abcdef".to_vec());
    doc.trailer
        .set("ID", lopdf::Object::Array(vec![id.clone(), id]));
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner",
        user_password,
        key_length: 128,
        permissions: lopdf::Permissions::all(),
    };
    let state = lopdf::EncryptionState::try_from(version).expect("RC4 encryption state");
    doc.encrypt(&state).expect("encrypt");
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}
