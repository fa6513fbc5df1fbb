//! Writes the committed fixtures in `tests/fixtures/files/`: one small sample per
//! structured format, each holding a distinctive sentence about a made-up entity (the
//! table is `lightrag_parse::testfiles::SAMPLES`), plus hostile files and a README.
//!
//! Run: `cargo run -p lightrag-parse --example make_fixtures`. The output is
//! deterministic (fixed zip timestamps), so regenerating changes nothing unless this
//! program or the table changed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use lightrag_parse::testfiles::{
    FIXTURE_PASSWORD, PdfBuilder, SAMPLES, encrypted_pdf, text_pdf, zip,
};

fn sentences(file: &str) -> &'static [&'static str] {
    SAMPLES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, sentences)| *sentences)
        .unwrap_or_else(|| panic!("{file} is not in SAMPLES"))
}

fn one(file: &str) -> &'static str {
    sentences(file)[0]
}

fn docx() -> Vec<u8> {
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{}</w:t></w:r></w:p><w:sectPr/></w:body></w:document>"#,
        one("sample.docx")
    );
    zip(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("word/document.xml", document.as_bytes()),
    ])
}

fn pptx() -> Vec<u8> {
    let [first, second] = sentences("sample.pptx") else {
        panic!("sample.pptx has two slides")
    };
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/><Override PartName="/ppt/slides/slide1.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/><Override PartName="/ppt/slides/slide2.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.slide+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/></Relationships>"#;
    let presentation = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><p:sldIdLst><p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId3"/></p:sldIdLst></p:presentation>"#;
    let presentation_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide1.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="slides/slide2.xml"/></Relationships>"#;
    let slide = |text: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree><p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
        )
    };
    let (s1, s2) = (slide(first), slide(second));
    zip(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("ppt/presentation.xml", presentation.as_bytes()),
        (
            "ppt/_rels/presentation.xml.rels",
            presentation_rels.as_bytes(),
        ),
        ("ppt/slides/slide1.xml", s1.as_bytes()),
        ("ppt/slides/slide2.xml", s2.as_bytes()),
    ])
}

fn xlsx() -> Vec<u8> {
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Shipments" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let workbook_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
    let shared = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3"><si><t>Fact</t></si><si><t>Tonnes</t></si><si><t>{}</t></si></sst>"#,
        one("sample.xlsx")
    );
    let sheet = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>1250.5</v></c></row></sheetData></worksheet>"#;
    zip(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", rels.as_bytes()),
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", workbook_rels.as_bytes()),
        ("xl/sharedStrings.xml", shared.as_bytes()),
        ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
    ])
}

fn odt() -> Vec<u8> {
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text><text:p>{}</text:p></office:text></office:body></office:document-content>"#,
        one("sample.odt")
    );
    zip(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text"),
        ("META-INF/manifest.xml", manifest.as_bytes()),
        ("content.xml", content.as_bytes()),
    ])
}

fn epub() -> Vec<u8> {
    let container = r#"<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;
    let opf = r#"<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:uuid:5f0c8a0e-0000-4000-8000-000000000001</dc:identifier><dc:title>The Gloamwater</dc:title><dc:language>en</dc:language></metadata><manifest><item id="ch1" href="chapter1.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="ch1"/></spine></package>"#;
    let chapter = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>The Gloamwater</title></head><body><h1>Chapter One</h1><p>{}</p></body></html>"#,
        one("sample.epub")
    );
    zip(&[
        ("mimetype", b"application/epub+zip"),
        ("META-INF/container.xml", container.as_bytes()),
        ("OEBPS/content.opf", opf.as_bytes()),
        ("OEBPS/chapter1.xhtml", chapter.as_bytes()),
    ])
}

fn textpack() -> Vec<u8> {
    let info = r#"{"version": 2, "type": "net.daringfireball.markdown"}"#;
    let text = format!("# Ferries\n\n{}\n", one("sample.textpack"));
    zip(&[
        ("Sample.textbundle/info.json", info.as_bytes()),
        ("Sample.textbundle/text.md", text.as_bytes()),
    ])
}

fn rtf() -> Vec<u8> {
    format!(
        "{{\\rtf1\\ansi\\ansicpg1252\\deff0{{\\fonttbl{{\\f0\\fswiss Helvetica;}}}}{{\\info{{\\title Sailcloth}}}}\n\\pard\\f0\\fs24 {}\\par\n}}\n",
        one("sample.rtf")
    )
    .into_bytes()
}

fn html() -> Vec<u8> {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Comet news</title><style>p {{ margin: 0 }}</style></head>\n<body><h1>Comet news</h1><p>{}</p><script>console.log(\"not text\");</script></body></html>\n",
        one("sample.html")
    )
    .into_bytes()
}

fn xml() -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<railways>\n  <railway id=\"obrenwald\">\n    <fact>{}</fact>\n  </railway>\n</railways>\n",
        one("sample.xml")
    )
    .into_bytes()
}

fn csv() -> Vec<u8> {
    format!("company,fact\nFenwick Apiaries,\"{}\"\n", one("sample.csv")).into_bytes()
}

fn json() -> Vec<u8> {
    format!(
        "{{\n  \"company\": \"Glimmerfen Robotics\",\n  \"fact\": \"{}\"\n}}\n",
        one("sample.json")
    )
    .into_bytes()
}

/// A docx whose document.xml is 300 MiB of whitespace and empty paragraphs: about
/// 300 KB zipped.
fn bomb_docx() -> Vec<u8> {
    const SIZE: usize = 300 << 20;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default());
    writer
        .start_file("word/document.xml", options)
        .expect("start entry");
    let head = b"<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>";
    writer.write_all(head).expect("write");
    // Whitespace between empty paragraphs: runs of one byte deflate best (about 1000:1),
    // and a tag every MiB keeps each XML event small, so the unpack budget is what trips.
    let mut chunk = vec![b' '; (1 << 20) - 6];
    chunk.extend_from_slice(b"<w:p/>");
    let mut written = head.len();
    while written < SIZE {
        writer.write_all(&chunk).expect("write");
        written += chunk.len();
    }
    writer.write_all(b"</w:body></w:document>").expect("write");
    writer.finish().expect("finish").into_inner()
}

/// A PDF whose only extra object nests 100,000 arrays.
fn nested_pdf() -> Vec<u8> {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let content = pdf.add(PdfBuilder::stream(
        "",
        b"BT /F1 12 Tf 72 700 Td (nested) Tj ET",
    ));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Contents {content} 0 R >>"
    ));
    pdf.add(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    pdf.finish(catalog, "")
}

/// A PDF whose page tree lists itself among its own kids.
fn cyclic_pdf() -> Vec<u8> {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let content = pdf.add(PdfBuilder::stream(
        "",
        b"BT /F1 12 Tf 72 700 Td (cyclic) Tj ET",
    ));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Contents {content} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R {tree} 0 R] /Count 2 >>"),
    );
    pdf.finish(catalog, "")
}

fn main() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/files");
    std::fs::create_dir_all(&dir).expect("create the fixture folder");
    let pdf_pages: Vec<Vec<&str>> = sentences("sample.pdf").iter().map(|s| vec![*s]).collect();
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "sample.pdf",
            text_pdf(&pdf_pages, true),
            "a 2-page PDF, one sentence per page",
        ),
        ("sample.docx", docx(), "a Word document, one paragraph"),
        (
            "encrypted.pdf",
            encrypted_pdf(sentences("encrypted.pdf")[0], FIXTURE_PASSWORD),
            "a 1-page PDF encrypted with RC4-128, user password `lantern` (set PDF_DECRYPT_PASSWORD)",
        ),
        (
            "sample.pptx",
            pptx(),
            "a 2-slide presentation, one sentence per slide",
        ),
        (
            "sample.xlsx",
            xlsx(),
            "a workbook with a sheet \"Shipments\": a header row, then the sentence and 1250.5",
        ),
        ("sample.odt", odt(), "an OpenDocument text, one paragraph"),
        (
            "sample.epub",
            epub(),
            "an EPUB 3 book with one chapter (heading \"Chapter One\")",
        ),
        ("sample.rtf", rtf(), "an RTF document, one paragraph"),
        (
            "sample.html",
            html(),
            "an HTML page (title and heading \"Comet news\", a script that is not text)",
        ),
        (
            "sample.xml",
            xml(),
            "an XML document, the sentence in one element",
        ),
        (
            "sample.csv",
            csv(),
            "a CSV with a header row, the sentence quoted in the second column",
        ),
        (
            "sample.json",
            json(),
            "a JSON object, the sentence as the value of \"fact\"",
        ),
        (
            "sample.textpack",
            textpack(),
            "a TextBundle zip, text.md under Sample.textbundle/",
        ),
        (
            "bomb.docx",
            bomb_docx(),
            "HOSTILE: a zip bomb, word/document.xml unpacks to 300 MiB of whitespace and empty paragraphs (rejected as TooLarge: unpacks to more than 128 MiB)",
        ),
        (
            "nested.pdf",
            nested_pdf(),
            "HOSTILE: an object nesting 100,000 arrays (rejected as Invalid before parsing)",
        ),
        (
            "cyclic.pdf",
            cyclic_pdf(),
            "HOSTILE: a page tree that lists itself among its kids (rejected as Invalid)",
        ),
        (
            "invalid-utf8.txt",
            b"This line is fine.\nThis one is not: \xFF\xFE\n".to_vec(),
            "HOSTILE: invalid UTF-8 at byte offset 36 (rejected as Invalid, naming the offset)",
        ),
    ];
    let mut readme = String::from(
        "# Parser fixtures\n\n\
         Small files for the server's integration tests and `lightrag-parse`'s fixture test. \
         Each sample holds the sentence(s) below, exactly; each names a made-up entity, so a \
         query for it can only be answered from that file.\n\n\
         Regenerate (deterministic) with:\n\n    cargo run -p lightrag-parse --example make_fixtures\n\n\
         | file | bytes | what it is | sentences |\n| --- | --- | --- | --- |\n",
    );
    for (name, bytes, what) in &files {
        std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("write {name}: {e}"));
        let said = SAMPLES
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| {
                s.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(readme, "| `{name}` | {} | {what} | {said} |", bytes.len());
    }
    std::fs::write(dir.join("README.md"), readme).expect("write README.md");
    println!("wrote {} files to {}", files.len() + 1, dir.display());
}
