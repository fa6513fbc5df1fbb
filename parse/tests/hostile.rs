//! Hostile inputs: each must come back as the right error (or as text), promptly,
//! without a panic, unbounded recursion or unbounded allocation.

use std::time::{Duration, Instant};

use lightrag_parse::testfiles::{PdfBuilder, deflate, text_pdf, zip};
use lightrag_parse::{Options, ParseError, parse};

/// Parses under `options`, failing the test if it takes longer than `seconds`.
fn timed(name: &str, bytes: &[u8], options: &Options, seconds: u64) -> Result<String, ParseError> {
    let started = Instant::now();
    let result = parse(name, bytes, options).map(|p| p.text);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(seconds), "{name} took {took:?}");
    result
}

fn small_budget() -> Options {
    Options {
        max_unpacked_bytes: 1 << 20,
        ..Options::default()
    }
}

fn assert_too_large(result: Result<String, ParseError>, needle: &str) {
    match result {
        Err(ParseError::TooLarge(message)) => assert!(message.contains(needle), "{message}"),
        other => panic!("expected TooLarge containing {needle:?}, got {other:?}"),
    }
}

fn assert_invalid(result: Result<String, ParseError>, needle: &str) {
    match result {
        Err(ParseError::Invalid(message)) => assert!(message.contains(needle), "{message}"),
        other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
    }
}

/// A docx whose document.xml is `size` bytes of empty paragraphs (no text, so only
/// the unpack budget can stop it).
fn docx_bomb(size: usize) -> Vec<u8> {
    let mut xml = b"<w:document xmlns:w=\"w\"><w:body>".to_vec();
    while xml.len() < size {
        xml.extend_from_slice(b"<w:p/>");
    }
    xml.extend_from_slice(b"</w:body></w:document>");
    zip(&[("word/document.xml", &xml)])
}

#[test]
fn zip_bomb_stops_at_the_unpack_budget() {
    let bytes = docx_bomb(8 << 20);
    assert!(bytes.len() < 64 << 10, "{}", bytes.len());
    assert_too_large(
        timed("bomb.docx", &bytes, &small_budget(), 10),
        "unpacks to more than 1 MiB",
    );
}

#[test]
fn the_budget_is_shared_by_all_entries() {
    let sheet = |rows: usize| {
        let mut xml = String::from("<worksheet><sheetData>");
        for _ in 0..rows {
            xml.push_str("<row><c><v>1</v></c></row>");
        }
        xml + "</sheetData></worksheet>"
    };
    let (s1, s2) = (sheet(25_000), sheet(25_000));
    assert!(s1.len() < 1 << 20 && s1.len() + s2.len() > 1 << 20);
    let workbook = r#"<workbook><sheets><sheet name="a"/><sheet name="b"/></sheets></workbook>"#;
    let bytes = zip(&[
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/worksheets/sheet1.xml", s1.as_bytes()),
        ("xl/worksheets/sheet2.xml", s2.as_bytes()),
    ]);
    assert_too_large(
        timed("two.xlsx", &bytes, &small_budget(), 10),
        "unpacks to more than 1 MiB",
    );
    assert!(timed("two.xlsx", &bytes, &Options::default(), 10).is_ok());
}

#[test]
fn one_giant_xml_event_is_refused_before_it_is_buffered() {
    let mut xml = b"<w:document xmlns:w=\"w\"><w:body><!--".to_vec();
    xml.resize(xml.len() + (20 << 20), b'x');
    xml.extend_from_slice(b"--></w:body></w:document>");
    let bytes = zip(&[("word/document.xml", &xml)]);
    assert_too_large(
        timed("comment.docx", &bytes, &Options::default(), 20),
        "single XML element",
    );
}

#[test]
fn too_many_zip_entries() {
    let names: Vec<String> = (0..10_001).map(|i| format!("f{i}")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let bytes = zip(&entries);
    assert_too_large(
        timed("many.epub", &bytes, &Options::default(), 10),
        "more than 10000 zip entries",
    );
}

#[test]
fn lying_declared_sizes_are_not_trusted() {
    let text = "word ".repeat(100_000);
    let document = format!(
        "<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"
    );
    let mut bytes = zip(&[("word/document.xml", document.as_bytes())]);
    // Declare an uncompressed size of 10 bytes in the local and central headers.
    for signature in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let at = bytes.windows(4).position(|w| w == signature).unwrap();
        let field = if signature == b"PK\x03\x04" {
            at + 22
        } else {
            at + 24
        };
        bytes[field..field + 4].copy_from_slice(&10u32.to_le_bytes());
    }
    // Whatever the zip reader makes of it, the budget still holds and nothing panics.
    match timed("liar.docx", &bytes, &small_budget(), 10) {
        Err(ParseError::TooLarge(_) | ParseError::Invalid(_)) => {}
        Ok(text) => assert!(text.len() <= 1 << 20),
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn not_a_zip_and_encrypted_office_files() {
    assert_invalid(
        timed("x.docx", b"PK\x03\x04garbage", &Options::default(), 5),
        "not a readable zip",
    );
    let ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 rest of a compound file";
    match timed("locked.xlsx", ole, &Options::default(), 5) {
        Err(ParseError::Encrypted(message)) => {
            assert!(message.contains("password-protected"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_invalid(
        timed(
            "empty.pptx",
            &zip(&[("a.txt", b"x")]),
            &Options::default(),
            5,
        ),
        "no ppt/slides",
    );
}

#[test]
fn deeply_nested_xml_and_html_cost_no_stack() {
    let depth = 200_000;
    let xml = format!("{}deep{}", "<a>".repeat(depth), "</a>".repeat(depth));
    assert_eq!(
        timed("deep.xml", xml.as_bytes(), &Options::default(), 20).unwrap(),
        "deep"
    );
    let html = format!(
        "{}deep{}",
        "<div><span>".repeat(depth),
        "</span></div>".repeat(depth)
    );
    assert_eq!(
        timed("deep.html", html.as_bytes(), &Options::default(), 20).unwrap(),
        "deep"
    );
    let unclosed = "<div>".repeat(depth) + "<p>text";
    assert_eq!(
        timed("open.htm", unclosed.as_bytes(), &Options::default(), 20).unwrap(),
        "text"
    );
    let body = format!(
        "{}<w:r><w:t>deep</w:t></w:r>{}",
        "<w:sdt>".repeat(depth),
        "</w:sdt>".repeat(depth)
    );
    let document =
        format!("<w:document xmlns:w=\"w\"><w:body><w:p>{body}</w:p></w:body></w:document>");
    let bytes = zip(&[("word/document.xml", document.as_bytes())]);
    assert_eq!(
        timed("deep.docx", &bytes, &Options::default(), 20).unwrap(),
        "deep"
    );
}

#[test]
fn deeply_nested_rtf_groups_are_rejected() {
    let rtf = format!("{{\\rtf1 {}x{}}}", "{".repeat(100_000), "}".repeat(100_000));
    assert_invalid(
        timed("deep.rtf", rtf.as_bytes(), &Options::default(), 10),
        "nests groups",
    );
    // A lying \bin length only skips to the end.
    assert_eq!(
        timed(
            "bin.rtf",
            b"{\\rtf1 text\\bin999999999999 }",
            &Options::default(),
            5
        )
        .unwrap(),
        "text"
    );
}

#[test]
fn huge_single_line_text() {
    let line = vec![b'a'; 100 << 20];
    assert_too_large(
        timed("one-line.txt", &line, &Options::default(), 5),
        "more than the 64 MiB limit",
    );
    let raised = Options {
        max_text_bytes: 128 << 20,
        ..Options::default()
    };
    let text = timed("one-line.txt", &line, &raised, 30).unwrap();
    assert_eq!(text.len(), 100 << 20);
}

#[test]
fn html_unterminated_constructs_end_at_the_input() {
    for html in [
        "<!-- never closed",
        "<p title=\"never closed>text",
        "<script>never closed",
        "a < b & c",
    ] {
        let _ = timed("u.html", html.as_bytes(), &Options::default(), 5);
    }
    assert_eq!(
        timed("u.html", b"a < b & c", &Options::default(), 5).unwrap(),
        "a < b & c"
    );
}

/// One page showing "hi", with `extra` as an additional object (number 6).
fn pdf_with_object(extra: &str) -> Vec<u8> {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    let content = pdf.add(PdfBuilder::stream("", b"BT /F1 12 Tf 72 700 Td (hi) Tj ET"));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R /Extra 6 0 R >>"
    ));
    assert_eq!(pdf.add(extra.to_owned()), 6);
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    pdf.finish(catalog, "")
}

#[test]
fn pdf_deep_nesting_is_rejected_before_parsing() {
    let n = 100_000;
    for body in [
        format!("{}{}", "[".repeat(n), "]".repeat(n)),
        "[".repeat(n),
        format!("{}{}", "<< /A ".repeat(n), ">>".repeat(n)),
    ] {
        assert_invalid(
            timed(
                "nested.pdf",
                &pdf_with_object(&body),
                &Options::default(),
                10,
            ),
            "nests arrays",
        );
    }
    // Brackets inside strings, comments and stream data are not nesting.
    let benign = format!("<< /S ({}) >> % {}", "[".repeat(1000), "[".repeat(1000));
    assert_eq!(
        timed("ok.pdf", &pdf_with_object(&benign), &Options::default(), 10).unwrap(),
        "hi"
    );
    let stream = PdfBuilder::stream("", "[".repeat(1000).as_bytes());
    let stream = String::from_utf8(stream).unwrap();
    assert_eq!(
        timed("ok.pdf", &pdf_with_object(&stream), &Options::default(), 10).unwrap(),
        "hi"
    );
}

#[test]
fn pdf_deeply_nested_content_stream_yields_no_text() {
    let n = 100_000;
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let content = format!("BT {}(x){} TJ ET", "[".repeat(n), "]".repeat(n));
    let stream = pdf.add(PdfBuilder::stream(
        "/Filter /FlateDecode",
        &deflate(content.as_bytes()),
    ));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Contents {stream} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    assert_invalid(
        timed("c.pdf", &pdf.finish(catalog, ""), &Options::default(), 10),
        "no extractable text",
    );
}

#[test]
fn pdf_self_references_terminate() {
    // An object that is a reference to itself, and content that refers to itself.
    assert_eq!(
        timed(
            "self.pdf",
            &pdf_with_object("6 0 R"),
            &Options::default(),
            10
        )
        .unwrap(),
        "hi"
    );
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let page = pdf.reserve();
    pdf.set(
        page,
        format!("<< /Type /Page /Parent {tree} 0 R /Contents {page} 0 R /Resources {page} 0 R >>"),
    );
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    assert_invalid(
        timed(
            "self.pdf",
            &pdf.finish(catalog, ""),
            &Options::default(),
            10,
        ),
        "no extractable text",
    );
}

#[test]
fn pdf_cyclic_page_trees_are_rejected() {
    // The root lists itself among its kids.
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let content = pdf.add(PdfBuilder::stream("", b"BT /F1 12 Tf (hi) Tj ET"));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Contents {content} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R {tree} 0 R] /Count 2 >>"),
    );
    assert_invalid(
        timed(
            "cyclic.pdf",
            &pdf.finish(catalog, ""),
            &Options::default(),
            10,
        ),
        "refers back",
    );

    // A grandchild points back at the root.
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let child = pdf.reserve();
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{child} 0 R] /Count 1 >>"),
    );
    pdf.set(
        child,
        format!("<< /Type /Pages /Parent {tree} 0 R /Kids [{tree} 0 R] /Count 1 >>"),
    );
    assert_invalid(
        timed(
            "cyclic.pdf",
            &pdf.finish(catalog, ""),
            &Options::default(),
            10,
        ),
        "refers back",
    );

    // A page listed twice is not a cycle: it keeps its first place.
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    let content = pdf.add(PdfBuilder::stream("", b"BT /F1 12 Tf (once) Tj ET"));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R {page} 0 R] /Count 2 >>"),
    );
    let parsed = parse("twice.pdf", &pdf.finish(catalog, ""), &Options::default()).unwrap();
    assert_eq!((parsed.text.as_str(), parsed.pages), ("once", Some(1)));
}

#[test]
fn pdf_lying_stream_lengths_and_broken_xref() {
    let good = text_pdf(&[vec!["Recovered text"]], false);
    let text = String::from_utf8_lossy(&good).into_owned();
    let at = text.find("/Length ").unwrap() + "/Length ".len();
    let digits = text[at..].find(' ').unwrap();
    let length = format!("/Length {}", &text[at..at + digits]);
    // A length past the end of the file is recovered from `endstream`; a negative or
    // short one loses that stream's text, without failing anything else.
    let huge = text.replacen(&length, "/Length 99999999999999", 1);
    assert_eq!(
        timed("len.pdf", huge.as_bytes(), &Options::default(), 10).unwrap(),
        "Recovered text"
    );
    for to in ["/Length -5", "/Length 3", "/Length 0 0 R"] {
        let bytes = text.replacen(&length, to, 1).into_bytes();
        match timed("len.pdf", &bytes, &Options::default(), 10) {
            Ok(_) | Err(ParseError::Invalid(_)) => {}
            Err(other) => panic!("{to}: {other:?}"),
        }
    }
    // startxref pointing nowhere, and an xref table of garbage: rebuilt by scanning.
    let at = text.rfind("startxref").unwrap();
    let bad_start = format!("{}startxref\n999999\n%%EOF\n", &text[..at]);
    assert_eq!(
        timed("x.pdf", bad_start.as_bytes(), &Options::default(), 10).unwrap(),
        "Recovered text"
    );
    let table = text.find("xref\n0").unwrap();
    let mut garbage = good.clone();
    for byte in &mut garbage[table + 5..at] {
        if byte.is_ascii_digit() {
            *byte = b'7';
        }
    }
    let _ = timed("x.pdf", &garbage, &Options::default(), 10);
    // Truncated, empty and non-PDF input.
    let _ = timed("t.pdf", &good[..good.len() / 2], &Options::default(), 10);
    assert_invalid(
        timed("e.pdf", b"", &Options::default(), 5),
        "cannot be read",
    );
    assert_invalid(
        timed("n.pdf", b"%PDF-1.7\nnothing else", &Options::default(), 5),
        "cannot be read",
    );
}

/// A PDF whose `pages` pages all draw one shared content stream inflating to `size`.
fn pdf_bomb(size: usize, pages: usize) -> Vec<u8> {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let mut raw = b"BT /F1 12 Tf (x) Tj ET\n".to_vec();
    raw.resize(size, b' ');
    let stream = pdf.add(PdfBuilder::stream("/Filter /FlateDecode", &deflate(&raw)));
    let kids: Vec<String> = (0..pages)
        .map(|_| {
            format!(
                "{} 0 R",
                pdf.add(format!(
                    "<< /Type /Page /Parent {tree} 0 R /Contents {stream} 0 R >>"
                ))
            )
        })
        .collect();
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ),
    );
    pdf.finish(catalog, "")
}

#[test]
fn pdf_decompression_bombs() {
    assert_too_large(
        timed("bomb.pdf", &pdf_bomb(4 << 20, 1), &small_budget(), 10),
        "decompresses to more",
    );
    // Each page alone is within budget; all of them together are not.
    assert_too_large(
        timed("bomb.pdf", &pdf_bomb(300 << 10, 8), &small_budget(), 10),
        "decompresses to more",
    );
    assert!(timed("ok.pdf", &pdf_bomb(300 << 10, 3), &small_budget(), 10).is_ok());
    // One stream over the per-stream cap, whatever the total budget.
    assert_too_large(
        timed("bomb.pdf", &pdf_bomb(40 << 20, 1), &Options::default(), 20),
        "32 MiB per stream",
    );
}

#[test]
fn pdf_forms_drawing_themselves_or_fanning_out_terminate() {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let form = pdf.reserve();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    // The form draws itself ten times: without guards, 10^depth draws.
    pdf.set(
        form,
        PdfBuilder::stream(
            &format!("/Subtype /Form /Resources << /Font << /F1 {font} 0 R >> /XObject << /X {form} 0 R >> >>"),
            format!("BT /F1 12 Tf (f) Tj ET {}", "/X Do ".repeat(10)).as_bytes(),
        ),
    );
    let content = pdf.add(PdfBuilder::stream("", b"/X Do"));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Resources << /XObject << /X {form} 0 R >> >> /Contents {content} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    assert_eq!(
        timed(
            "forms.pdf",
            &pdf.finish(catalog, ""),
            &Options::default(),
            10
        )
        .unwrap(),
        "f"
    );
}

#[test]
fn nesting_lopdf_accepts_fits_a_one_mib_stack() {
    // The wasm guest's main stack is 1 MiB. lopdf parses up to 100 levels recursively
    // (in objects the pre-scan cannot see, such as compressed object streams, and in
    // content streams), so the deepest nesting it accepts must fit in that stack.
    let depth = 99;
    let object = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    let content = format!(
        "BT /F1 12 Tf 72 700 Td (deep) Tj {}(x){} TJ ET",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let stream = pdf.add(PdfBuilder::stream(
        "/Filter /FlateDecode",
        &deflate(content.as_bytes()),
    ));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Resources << /Font << /F1 {font} 0 R >> >> /Contents {stream} 0 R /Deep {object} >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    let bytes = pdf.finish(catalog, "");
    let worker = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || parse("deep.pdf", &bytes, &Options::default()).map(|p| p.text))
        .unwrap();
    let text = worker.join().expect("no stack overflow").unwrap();
    assert!(text.starts_with("deep"), "{text}");
}

#[test]
fn pdf_object_stream_bombs_are_measured_before_loading() {
    // Object streams each declaring tens of thousands of tiny objects: each is under the
    // per-stream limit, together they are over the budget. lopdf would inflate and parse
    // all of them while loading, before any page is read.
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    for stream in 0..4 {
        let mut raw = String::new();
        for i in 0..40_000 {
            raw.push_str(&format!("{} {} ", 1000 + stream * 40_000 + i, i * 2));
        }
        let first = raw.len();
        raw.push_str(&"1 ".repeat(40_000));
        assert!(raw.len() < 1 << 20);
        let data = deflate(raw.as_bytes());
        pdf.add(PdfBuilder::stream(
            &format!("/Type /ObjStm /N 40000 /First {first} /Filter /FlateDecode"),
            &data,
        ));
    }
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(tree, "<< /Type /Pages /Kids [] /Count 0 >>");
    let bytes = pdf.finish(catalog, "");
    assert_too_large(
        timed("objstm.pdf", &bytes, &small_budget(), 10),
        "decompresses to more",
    );
}
