//! The committed fixtures in `tests/fixtures/files/` (written by
//! `examples/make_fixtures.rs`): every sample yields its sentences, in order, and every
//! hostile file yields its error.

use std::path::PathBuf;

use lightrag_parse::testfiles::{FIXTURE_PASSWORD, SAMPLES};
use lightrag_parse::{Options, ParseError, parse};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/files")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_sample_yields_its_sentences_in_order() {
    // The password opens `encrypted.pdf`; every other sample ignores it.
    let options = Options {
        pdf_password: Some(FIXTURE_PASSWORD.into()),
        ..Options::default()
    };
    for (name, sentences) in SAMPLES {
        let parsed =
            parse(name, &fixture(name), &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut from = 0;
        for sentence in *sentences {
            let at = parsed.text[from..].find(sentence).unwrap_or_else(|| {
                panic!(
                    "{name}: {sentence:?} not found after byte {from} in {:?}",
                    parsed.text
                )
            });
            from += at + sentence.len();
        }
    }
}

#[test]
fn samples_use_the_expected_extractors() {
    let parsed = |name: &str| parse(name, &fixture(name), &Options::default()).unwrap();
    let pdf = parsed("sample.pdf");
    assert_eq!((pdf.parser, pdf.pages), ("pdf", Some(2)));
    assert_eq!(
        pdf.text,
        "Zorbulax Industries builds tidal turbines on the coast of Veltmark.\n\n\
         Quenthara Labs tests every Zorbulax turbine in the cold waters of Lake Ossifer."
    );
    assert_eq!(
        parsed("sample.xlsx").text,
        "Shipments\nFact\tTonnes\nThessaly Grain Cooperative ships barley to Orvik Breweries.\t1250.5"
    );
    assert_eq!(
        parsed("sample.html").text,
        "Comet news\nComet news\nVantrell Observatory discovered the comet Ashgrove-7 in March."
    );
    for (name, parser) in [
        ("sample.docx", "docx"),
        ("sample.pptx", "pptx"),
        ("sample.odt", "odt"),
        ("sample.epub", "epub"),
        ("sample.rtf", "rtf"),
        ("sample.xml", "xml"),
        ("sample.csv", "text"),
        ("sample.json", "text"),
        ("sample.textpack", "textpack"),
    ] {
        assert_eq!(parsed(name).parser, parser, "{name}");
    }
}

#[test]
fn hostile_fixtures_yield_their_errors() {
    let bytes = fixture("bomb.docx");
    assert!(bytes.len() <= 400_000, "{}", bytes.len());
    match parse("bomb.docx", &bytes, &Options::default()) {
        Err(ParseError::TooLarge(message)) => assert!(
            message.contains("unpacks to more than 128 MiB"),
            "{message}"
        ),
        other => panic!("bomb.docx: {other:?}"),
    }
    match parse("nested.pdf", &fixture("nested.pdf"), &Options::default()) {
        Err(ParseError::Invalid(message)) => assert!(message.contains("nests arrays"), "{message}"),
        other => panic!("nested.pdf: {other:?}"),
    }
    match parse("cyclic.pdf", &fixture("cyclic.pdf"), &Options::default()) {
        Err(ParseError::Invalid(message)) => {
            assert!(message.contains("page tree refers back"), "{message}")
        }
        other => panic!("cyclic.pdf: {other:?}"),
    }
    match parse(
        "invalid-utf8.txt",
        &fixture("invalid-utf8.txt"),
        &Options::default(),
    ) {
        Err(ParseError::Invalid(message)) => assert!(message.contains("offset 36"), "{message}"),
        other => panic!("invalid-utf8.txt: {other:?}"),
    }
}
