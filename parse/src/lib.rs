//! Placeholder: text files only.

/// LightRAG's accepted extensions.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    ".bat",
    ".c",
    ".conf",
    ".cpp",
    ".css",
    ".csv",
    ".docx",
    ".epub",
    ".go",
    ".h",
    ".hpp",
    ".htm",
    ".html",
    ".ini",
    ".java",
    ".js",
    ".json",
    ".less",
    ".log",
    ".md",
    ".mdx",
    ".odt",
    ".pdf",
    ".php",
    ".pptx",
    ".properties",
    ".py",
    ".rb",
    ".rtf",
    ".scss",
    ".sh",
    ".sql",
    ".swift",
    ".tex",
    ".textpack",
    ".ts",
    ".txt",
    ".xlsx",
    ".xml",
    ".yaml",
    ".yml",
];

pub fn is_supported(file_name: &str) -> bool {
    let lower = file_name.to_ascii_lowercase();
    SUPPORTED_EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

pub struct Options {
    pub pdf_password: Option<String>,
    pub max_text_bytes: usize,
    pub max_unpacked_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pdf_password: None,
            max_text_bytes: 64 << 20,
            max_unpacked_bytes: 128 << 20,
        }
    }
}

pub struct Parsed {
    pub text: String,
    pub parser: &'static str,
    pub pages: Option<u32>,
}

#[derive(Debug)]
pub enum ParseError {
    Unsupported(String),
    Invalid(String),
    TooLarge(String),
    Encrypted(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Unsupported(m)
            | ParseError::Invalid(m)
            | ParseError::TooLarge(m)
            | ParseError::Encrypted(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ParseError {}

pub fn parse(file_name: &str, bytes: &[u8], options: &Options) -> Result<Parsed, ParseError> {
    if !is_supported(file_name) {
        return Err(ParseError::Unsupported(format!(
            "unsupported file type: {file_name}"
        )));
    }
    if bytes.len() > options.max_text_bytes {
        return Err(ParseError::TooLarge(format!("{file_name} is too large")));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ParseError::Invalid(format!(
            "{file_name} is not valid UTF-8 (byte {})",
            e.valid_up_to()
        ))
    })?;
    Ok(Parsed {
        text: text.trim().to_string(),
        parser: "text",
        pages: None,
    })
}
