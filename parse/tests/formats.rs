//! Each format's extraction, on inputs built here, asserting the exact text and order.

use lightrag_parse::testfiles::{PdfBuilder, text_pdf, zip};
use lightrag_parse::{Options, ParseError, Parsed, SUPPORTED_EXTENSIONS, is_supported, parse};

fn text_of(name: &str, bytes: &[u8]) -> String {
    match parse(name, bytes, &Options::default()) {
        Ok(parsed) => parsed.text,
        Err(e) => panic!("{name}: {e}"),
    }
}

fn parsed(name: &str, bytes: &[u8]) -> Parsed {
    parse(name, bytes, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn supported_extensions_are_matched_case_insensitively() {
    assert_eq!(SUPPORTED_EXTENSIONS.len(), 41);
    assert!(is_supported("Report.PDF"));
    assert!(is_supported("notes.mdx"));
    assert!(is_supported("a.b.textpack"));
    assert!(!is_supported("archive.zip"));
    assert!(
        !is_supported(".pdf"),
        "an extension alone is not a file name"
    );
    assert!(!is_supported("pdf"));
    let error = parse("photo.png", b"x", &Options::default()).unwrap_err();
    assert!(matches!(error, ParseError::Unsupported(_)), "{error:?}");
    assert!(error.to_string().contains("photo.png"), "{error}");
}

#[test]
fn text_files_are_utf8_without_bom_and_control_characters() {
    let p = parsed(
        "notes.md",
        b"\xEF\xBB\xBF# Title\r\n\nBody\x00 text\x07.\n\n",
    );
    assert_eq!(p.text, "# Title\r\n\nBody text.");
    assert_eq!(p.parser, "text");
    assert_eq!(p.pages, None);
    assert_eq!(
        text_of("main.rs.go", "package main // ünïcode".as_bytes()),
        "package main // ünïcode"
    );
    assert_eq!(text_of("data.csv", b"a,b\n1,2\n"), "a,b\n1,2");
}

#[test]
fn invalid_utf8_names_the_offset() {
    let error = parse("notes.txt", b"abc\xFFdef", &Options::default()).unwrap_err();
    assert!(matches!(error, ParseError::Invalid(_)), "{error:?}");
    assert!(error.to_string().contains("offset 3"), "{error}");
    // The offset counts the byte-order mark.
    let error = parse("notes.txt", b"\xEF\xBB\xBFab\xC3", &Options::default()).unwrap_err();
    assert!(error.to_string().contains("offset 5"), "{error}");
}

#[test]
fn text_over_the_limit_is_rejected_before_decoding() {
    let options = Options {
        max_text_bytes: 10,
        ..Options::default()
    };
    let error = parse("big.log", &[0xFF; 11], &options).unwrap_err();
    assert!(matches!(error, ParseError::TooLarge(_)), "{error:?}");
    assert_eq!(
        parse("ok.log", b"0123456789", &options).unwrap().text,
        "0123456789"
    );
}

#[test]
fn empty_or_blank_files_have_no_text() {
    for (name, bytes) in [
        ("a.txt", &b""[..]),
        ("b.txt", b" \n\t\0 "),
        ("c.html", b"<p> </p>"),
    ] {
        let error = parse(name, bytes, &Options::default()).unwrap_err();
        assert!(matches!(error, ParseError::Invalid(_)), "{error:?}");
        assert!(error.to_string().contains("no extractable text"), "{error}");
    }
}

#[test]
fn html_keeps_title_and_body_text_only() {
    let html = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>The &quot;Title&quot;</title>
        <style>p { color: red; }</style><script>var x = "<p>no</p>";</script></head>
        <body><!-- a comment <p>hidden</p> -->
        <h1>Heading</h1><p>First   paragraph
        with <b>bold</b> text &amp; more&nbsp;words&#33; &#x263A; &unknown;</p>
        <div>Line one<br>Line two<BR/>Line three</div>
        <table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>
        <pre>  keep   this
   spacing</pre><p>1 < 2 and 3 > 2</p><SCRIPT type="x">ignored()</SCRIPT>
        <ul><li>one</li><li>two</li></ul></body></html>"#;
    assert_eq!(
        parsed("page.html", html.as_bytes()).text,
        "The \"Title\"\nHeading\nFirst paragraph with bold text & more words! ☺ &unknown;\n\
         Line one\nLine two\nLine three\na\tb\nc\td\n  keep   this\n   spacing\n1 < 2 and 3 > 2\none\ntwo"
    );
    assert_eq!(parsed("page.htm", b"<p>x</p>").parser, "html");
}

#[test]
fn xml_yields_text_and_cdata() {
    let xml = r#"<?xml version="1.0"?>
        <!DOCTYPE catalog [<!ENTITY custom "expanded">]>
        <catalog xmlns:x="urn:x">
          <!-- comment -->
          <book id="1"><title>Rust &amp; Wasm</title><x:note><![CDATA[<raw> text]]></x:note></book>
          <book id="2"><title>Second &#169; book</title> <empty/> &custom;</book>
        </catalog>"#;
    let p = parsed("catalog.xml", xml.as_bytes());
    assert_eq!(p.text, "Rust & Wasm\n<raw> text\nSecond © book");
    assert_eq!(p.parser, "xml");
}

#[test]
fn malformed_xml_is_invalid() {
    let error = parse("bad.xml", b"<a><b attr=\"x></a>", &Options::default()).unwrap_err();
    assert!(matches!(error, ParseError::Invalid(_)), "{error:?}");
    assert!(
        error.to_string().starts_with("The XML file is malformed"),
        "{error}"
    );
}

const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

fn docx(body: &str) -> Vec<u8> {
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {W}><w:body>{body}</w:body></w:document>"#
    );
    zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", document.as_bytes()),
    ])
}

#[test]
fn docx_paragraphs_tabs_breaks_and_tables() {
    let body = r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>
        <w:r><w:t>Hello</w:t></w:r><w:r><w:t xml:space="preserve"> world</w:t></w:r></w:p>
        <w:p><w:r><w:t>A</w:t><w:tab/><w:t>B</w:t><w:br/><w:t>C &amp; D</w:t><w:cr/><w:t>E</w:t></w:r></w:p>
        <w:p><w:r><w:instrText>PAGE</w:instrText><w:delText>deleted</w:delText></w:r></w:p>
        <w:tbl><w:tr><w:tc><w:p><w:r><w:t>r1c1</w:t></w:r></w:p><w:p><w:r><w:t>more</w:t></w:r></w:p></w:tc>
        <w:tc><w:p><w:r><w:t>r1c2</w:t></w:r></w:p></w:tc></w:tr>
        <w:tr><w:tc><w:p><w:r><w:t>r2c1</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc><w:tc><w:p><w:r><w:t>r2c3</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
        <w:p><w:r><mc:AlternateContent xmlns:mc="m"><mc:Choice><w:t>Box</w:t></mc:Choice><mc:Fallback><w:t>Box</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>
        <w:p><w:r><w:t>Last</w:t></w:r></w:p>"#;
    let p = parsed("report.docx", &docx(body));
    assert_eq!(
        p.text,
        "Hello world\nA\tB\nC & D\nE\nr1c1 more\tr1c2\nr2c1\t\tr2c3\nBox\nLast"
    );
    assert_eq!(p.parser, "docx");
}

fn slide(texts: &[&str]) -> String {
    let paragraphs: String = texts
        .iter()
        .map(|t| format!("<a:p><a:r><a:t>{t}</a:t></a:r></a:p>"))
        .collect();
    format!(
        r#"<p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree><p:sp><p:txBody>{paragraphs}</p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#
    )
}

#[test]
fn pptx_slides_in_numeric_order() {
    let s1 = slide(&["One title", "one body"]);
    let s2 = slide(&["Two"]);
    let s10 = r#"<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>Ten</a:t></a:r><a:br/><a:r><a:t>line &lt;2&gt;</a:t></a:r></a:p></p:sld>"#;
    let bytes = zip(&[
        ("ppt/presentation.xml", b"<p:presentation xmlns:p=\"p\"/>"),
        ("ppt/slides/slide10.xml", s10.as_bytes()),
        ("ppt/slides/slide2.xml", s2.as_bytes()),
        ("ppt/slides/_rels/slide1.xml.rels", b"<Relationships/>"),
        ("ppt/slides/slide1.xml", s1.as_bytes()),
        (
            "ppt/notesSlides/notesSlide1.xml",
            slide(&["speaker notes"]).as_bytes(),
        ),
    ]);
    let p = parsed("deck.pptx", &bytes);
    assert_eq!(p.text, "One title\none body\n\nTwo\n\nTen\nline <2>");
    assert_eq!(p.parser, "pptx");
}

#[test]
fn xlsx_sheets_in_workbook_order_with_shared_and_inline_strings() {
    let workbook = r#"<workbook xmlns:r="r"><sheets>
        <sheet name="Summary &amp; totals" sheetId="2" r:id="rId2"/><sheet name="Data" sheetId="1" r:id="rId1"/>
        </sheets></workbook>"#;
    let rels = r#"<Relationships>
        <Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/>
        <Relationship Id="rId2" Type="worksheet" Target="/xl/worksheets/sheet2.xml"/>
        <Relationship Id="rId3" Type="sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
    let shared = r#"<sst count="3"><si><t>Name</t></si><si><r><t>Rich </t></r><r><t>text</t></r><rPh><t>ignored</t></rPh></si><si/><si><t>Total</t></si></sst>"#;
    let data = r#"<worksheet><sheetData>
        <row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
        <row r="2"><c r="A2" t="inlineStr"><is><t>inline</t></is></c><c r="B2"><f>1+1</f><v>2.5</v></c><c r="D2" t="b"><v>1</v></c></row>
        <row r="3"/>
        <row r="4"><c r="B4" t="e"><v>#DIV/0!</v></c></row>
        </sheetData></worksheet>"#;
    let summary = r#"<worksheet><sheetData><row><c t="s"><v>3</v></c><c t="str"><v>42</v></c></row></sheetData></worksheet>"#;
    let bytes = zip(&[
        ("xl/workbook.xml", workbook.as_bytes()),
        ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
        ("xl/sharedStrings.xml", shared.as_bytes()),
        ("xl/worksheets/sheet1.xml", data.as_bytes()),
        ("xl/worksheets/sheet2.xml", summary.as_bytes()),
    ]);
    let p = parsed("book.xlsx", &bytes);
    assert_eq!(
        p.text,
        "Summary & totals\nTotal\t42\n\nData\nName\tRich text\ninline\t2.5\t\tTRUE\n\t#DIV/0!"
    );
    assert_eq!(p.parser, "xlsx");
}

#[test]
fn odt_paragraphs_spaces_tabs_and_line_breaks() {
    let content = r#"<office:document-content xmlns:office="o" xmlns:text="t" xmlns:table="tb">
        <office:automatic-styles><style:style xmlns:style="s"/></office:automatic-styles>
        <office:body><office:text>
        <text:h text:outline-level="1">Heading</text:h>
        <text:p>A<text:s text:c="3"/>B<text:tab/>C<text:line-break/>D <text:span>span</text:span> <text:a>link</text:a></text:p>
        <text:tracked-changes><text:changed-region><text:deletion><text:p>deleted</text:p></text:deletion></text:changed-region></text:tracked-changes>
        <table:table><table:table-row><table:table-cell><text:p>x1</text:p></table:table-cell><table:table-cell><text:p>x2</text:p></table:table-cell></table:table-row></table:table>
        <text:p>End<text:s/>.</text:p>
        </office:text></office:body></office:document-content>"#;
    let bytes = zip(&[
        ("mimetype", b"application/vnd.oasis.opendocument.text"),
        ("content.xml", content.as_bytes()),
    ]);
    let p = parsed("letter.odt", &bytes);
    assert_eq!(p.text, "Heading\nA   B\tC\nD span link\nx1\tx2\nEnd .");
    assert_eq!(p.parser, "odt");
}

fn epub_bytes() -> Vec<u8> {
    let container = r#"<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
        <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;
    let opf = r#"<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><manifest>
        <item id="c2" href="text/chapter%202.xhtml" media-type="application/xhtml+xml"/>
        <item id="c1" href="text/ch1.xhtml#start" media-type="application/xhtml+xml"/>
        <item id="css" href="style.css" media-type="text/css"/>
        <item id="gone" href="missing.xhtml" media-type="application/xhtml+xml"/>
        </manifest><spine><itemref idref="c1"/><itemref idref="gone"/><itemref idref="c2"/></spine></package>"#;
    let ch1 = "<html><head><title>Book</title></head><body><h1>Chapter One</h1><p>It began.</p></body></html>";
    let ch2 = "<html><body><h1>Chapter Two</h1><p>It ended.</p></body></html>";
    zip(&[
        ("mimetype", b"application/epub+zip"),
        ("META-INF/container.xml", container.as_bytes()),
        ("OEBPS/content.opf", opf.as_bytes()),
        ("OEBPS/text/chapter 2.xhtml", ch2.as_bytes()),
        ("OEBPS/text/ch1.xhtml", ch1.as_bytes()),
        ("OEBPS/style.css", b"p{}"),
    ])
}

#[test]
fn epub_chapters_in_spine_order() {
    let p = parsed("book.epub", &epub_bytes());
    assert_eq!(p.text, "Chapter One\nIt began.\n\nChapter Two\nIt ended.");
    assert_eq!(p.parser, "epub");
}

#[test]
fn textpack_text_at_top_or_in_the_bundle_folder() {
    let top = zip(&[
        ("info.json", b"{}"),
        ("text.txt", b"plain"),
        ("text.md", b"# Top\n\nmarkdown"),
    ]);
    assert_eq!(text_of("note.textpack", &top), "# Top\n\nmarkdown");
    let nested = zip(&[
        ("Note.textbundle/info.json", b"{}"),
        ("Note.textbundle/assets/text.md", b"not this one"),
        ("Note.textbundle/text.markdown", "Bündle".as_bytes()),
    ]);
    let p = parsed("note.TEXTPACK", &nested);
    assert_eq!(p.text, "Bündle");
    assert_eq!(p.parser, "textpack");
    let error = parse(
        "x.textpack",
        &zip(&[("readme.txt", b"x")]),
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(error, ParseError::Invalid(_)), "{error:?}");
}

#[test]
fn rtf_text_without_destinations() {
    let rtf = br#"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss Helvetica;}{\f1 Times;}}
{\colortbl;\red255\green0\blue0;}{\stylesheet{\s0 Normal;}}{\info{\title Secret}{\author Me}}
{\*\generator Writer 1.0;}{\header Page header\par}
\pard\f0\fs24 Caf\'e9 na\u239?ve \u8364\'80 and \{braces\} \\ back\par
Tab\tab here\line next{\b bold}{\*\unknowndest skip me} end\par
{\field{\*\fldinst HYPERLINK "http://x"}{\fldrslt link text}}\par
{\pict\wmetafile8 0102abcdef}\uc2\u-10179\u-8704??after\par
\bin3 {}}tail\~\endash\emdash}"#;
    let p = parsed("doc.rtf", rtf);
    assert_eq!(
        p.text,
        "Café naïve € and {braces} \\ back\nTab\there\nnextbold end\nlink text\n😀after\ntail –—"
    );
    assert_eq!(p.parser, "rtf");
    let error = parse("x.rtf", b"not rtf", &Options::default()).unwrap_err();
    assert!(matches!(error, ParseError::Invalid(_)), "{error:?}");
}

#[test]
fn pdf_pages_in_order_with_page_count() {
    let bytes = text_pdf(
        &[
            vec!["First page line one", "line (two) \\ end"],
            vec!["Second page"],
        ],
        true,
    );
    let p = parsed("doc.pdf", &bytes);
    assert_eq!(
        p.text,
        "First page line one\nline (two) \\ end\n\nSecond page"
    );
    assert_eq!(p.parser, "pdf");
    assert_eq!(p.pages, Some(2));
}

/// One page whose content stream is `content`, with Helvetica as /F1 (Widths given so
/// spacing is estimated from real advances).
fn one_page_pdf(content: &str) -> Vec<u8> {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let widths = vec!["556"; 95].join(" ");
    let font = pdf.add(format!(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [{widths}] >>"
    ));
    let stream = pdf.add(PdfBuilder::stream("", content.as_bytes()));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Resources << /Font << /F1 {font} 0 R >> >> /Contents {stream} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    pdf.finish(catalog, "")
}

#[test]
fn pdf_spacing_follows_positions() {
    // TJ with a word gap and a kern, runs placed apart by Td, a new line by Tm, and a
    // line made of pieces in a cm-translated text object.
    let content = "BT /F1 10 Tf 72 700 Td [(Hel) -30 (lo) -400 (world)] TJ 70 0 Td (again) Tj ET \
                   BT /F1 10 Tf 1 0 0 1 72 680 Tm (Next) Tj ( line) Tj ET \
                   q 1 0 0 1 0 -40 cm BT /F1 10 Tf 72 680 Td (Moved) Tj ET Q";
    assert_eq!(
        text_of("s.pdf", &one_page_pdf(content)),
        "Hello world again\nNext line\nMoved"
    );
}

#[test]
fn pdf_text_in_form_xobjects() {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    let form = pdf.add(PdfBuilder::stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F9 3 0 R >> >>",
        b"BT /F9 12 Tf 72 600 Td (Inside the form) Tj ET",
    ));
    let stream = pdf.add(PdfBuilder::stream(
        "",
        b"BT /F1 12 Tf 72 700 Td (Page text) Tj ET /X1 Do /X1 Do /Missing Do",
    ));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /Resources << /Font << /F1 {font} 0 R >> /XObject << /X1 {form} 0 R >> >> /Contents {stream} 0 R >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    assert_eq!(font, 3);
    assert_eq!(
        text_of("f.pdf", &pdf.finish(catalog, "")),
        "Page text\nInside the form Inside the form"
    );
}

#[test]
fn pdf_inherited_resources_and_nested_page_tree() {
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let root = pdf.reserve();
    let middle = pdf.reserve();
    let font = pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    let page = |pdf: &mut PdfBuilder, parent: u32, text: &str| {
        let content = format!("BT /F1 12 Tf 72 700 Td ({text}) Tj ET");
        let stream = pdf.add(PdfBuilder::stream("", content.as_bytes()));
        pdf.add(format!(
            "<< /Type /Page /Parent {parent} 0 R /Contents {stream} 0 R >>"
        ))
    };
    let p1 = page(&mut pdf, root, "one");
    let p2 = page(&mut pdf, middle, "two");
    let p3 = page(&mut pdf, middle, "three");
    let p4 = page(&mut pdf, root, "four");
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {root} 0 R >>"));
    pdf.set(
        root,
        format!("<< /Type /Pages /Kids [{p1} 0 R {middle} 0 R {p4} 0 R] /Count 4 /Resources << /Font << /F1 {font} 0 R >> >> >>"),
    );
    pdf.set(
        middle,
        format!("<< /Type /Pages /Parent {root} 0 R /Kids [{p2} 0 R {p3} 0 R] /Count 2 >>"),
    );
    let p = parsed("tree.pdf", &pdf.finish(catalog, ""));
    assert_eq!(p.text, "one\n\ntwo\n\nthree\n\nfour");
    assert_eq!(p.pages, Some(4));
}

fn encrypted_pdf(user_password: &str) -> Vec<u8> {
    lightrag_parse::testfiles::encrypted_pdf("Top secret plans", user_password)
}

#[test]
fn encrypted_pdf_needs_the_password() {
    let bytes = encrypted_pdf("secret");
    let error = parse("e.pdf", &bytes, &Options::default()).unwrap_err();
    assert!(matches!(error, ParseError::Encrypted(_)), "{error:?}");
    assert!(
        error.to_string().contains("PDF_DECRYPT_PASSWORD"),
        "{error}"
    );

    let wrong = Options {
        pdf_password: Some("guess".into()),
        ..Options::default()
    };
    let error = parse("e.pdf", &bytes, &wrong).unwrap_err();
    assert!(matches!(error, ParseError::Encrypted(_)), "{error:?}");
    assert!(
        error.to_string().contains("PDF_DECRYPT_PASSWORD"),
        "{error}"
    );

    let right = Options {
        pdf_password: Some("secret".into()),
        ..Options::default()
    };
    assert_eq!(
        parse("e.pdf", &bytes, &right).unwrap().text,
        "Top secret plans"
    );
}

#[test]
fn pdf_with_empty_user_password_opens_without_one() {
    let bytes = encrypted_pdf("");
    assert_eq!(text_of("e.pdf", &bytes), "Top secret plans");
}

#[test]
fn a_page_of_several_content_streams_reads_them_all_in_order() {
    use lightrag_parse::testfiles::{deflate, page_content};
    let mut pdf = PdfBuilder::new();
    let catalog = pdf.reserve();
    let tree = pdf.reserve();
    let font = pdf
        .add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
    let first = pdf.add(PdfBuilder::stream(
        "/Filter /FlateDecode",
        &deflate(&page_content(&["First part, inflated."])),
    ));
    let second = pdf.add(PdfBuilder::stream(
        "",
        &page_content(&["Second part, plain."]),
    ));
    // A cut-short Flate stream keeps what it held; the rest of the page is read.
    let whole = deflate(&page_content(&["Third part, cut short but readable."]));
    let third = pdf.add(PdfBuilder::stream(
        "/Filter [/FlateDecode]",
        &whole[..whole.len() - 6],
    ));
    let page = pdf.add(format!(
        "<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 612 792] \
         /Resources << /Font << /F1 {font} 0 R >> >> \
         /Contents [{first} 0 R {second} 0 R {third} 0 R] >>"
    ));
    pdf.set(catalog, format!("<< /Type /Catalog /Pages {tree} 0 R >>"));
    pdf.set(
        tree,
        format!("<< /Type /Pages /Kids [{page} 0 R] /Count 1 >>"),
    );
    let text = parsed("parts.pdf", &pdf.finish(catalog, "")).text;
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("{s:?} not in {text:?}"))
    };
    assert!(at("First part") < at("Second part"));
    assert!(at("Second part") < at("Third part"));
}
