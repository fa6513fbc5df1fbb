//! The data the entity rules share: kinds and their votes, sentences, runs, mentions,
//! the analysis result, vote weights and length limits.

use crate::text::Word;
use std::collections::BTreeSet;

/// What an entity is. Mapped onto the caller's entity types by name and synonyms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A person.
    Person,
    /// A company, institution, agency or group.
    Organization,
    /// A place.
    Location,
    /// Something that happened: wars, conferences, elections.
    Event,
    /// A document, publication, law or work.
    Content,
    /// A named method or procedure.
    Method,
    /// A made thing: instrument, machine, product.
    Artifact,
    /// A natural object: a planet, a comet.
    NaturalObject,
    /// Anything else that is named: ideas, prizes, theories.
    Concept,
}

impl Kind {
    /// Tie-break order when two kinds receive equal votes.
    pub(crate) const PRIORITY: [Kind; 9] = [
        Kind::Person,
        Kind::Organization,
        Kind::Location,
        Kind::Event,
        Kind::Content,
        Kind::Method,
        Kind::Artifact,
        Kind::NaturalObject,
        Kind::Concept,
    ];

    fn index(self) -> usize {
        Self::PRIORITY.iter().position(|k| *k == self).unwrap_or(8)
    }

    /// LightRAG's default type name for this kind.
    pub(crate) fn default_name(self) -> &'static str {
        match self {
            Kind::Person => "Person",
            Kind::Organization => "Organization",
            Kind::Location => "Location",
            Kind::Event => "Event",
            Kind::Content => "Content",
            Kind::Method => "Method",
            Kind::Artifact => "Artifact",
            Kind::NaturalObject => "NaturalObject",
            Kind::Concept => "Concept",
        }
    }

    /// Lowercase type names (besides the default one) that mean this kind, so that
    /// custom type lists such as LightRAG's older `organization, person, geo, event,
    /// category` are honoured.
    pub(crate) fn synonyms(self) -> &'static [&'static str] {
        match self {
            Kind::Person => &["person", "people", "human", "individual", "character"],
            Kind::Organization => &[
                "organization",
                "organisation",
                "org",
                "company",
                "institution",
                "group",
            ],
            Kind::Location => &[
                "location", "geo", "place", "gpe", "country", "city", "region",
            ],
            Kind::Event => &["event", "incident", "occurrence"],
            Kind::Content => &["content", "document", "publication", "work", "law"],
            Kind::Method => &["method", "technique", "process", "procedure"],
            Kind::Artifact => &[
                "artifact",
                "artefact",
                "product",
                "object",
                "technology",
                "tool",
            ],
            Kind::NaturalObject => &["naturalobject", "natural_object", "natural object"],
            Kind::Concept => &[
                "concept", "category", "topic", "idea", "other", "unknown", "misc",
            ],
        }
    }
}

pub(super) const STRONG: u32 = 3;
pub(super) const MEDIUM: u32 = 2;
pub(super) const CUE: u32 = 1;

/// Longest name, in words, connectors included.
pub(super) const MAX_RUN_WORDS: usize = 8;

/// Longest name, in chars; longer capitalised runs are noise (titles, shouting).
pub(super) const MAX_NAME_CHARS: usize = 120;

/// Type votes, indexed by [`Kind::PRIORITY`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Votes([u32; 9]);

impl Votes {
    pub(super) fn add(&mut self, kind: Kind, weight: u32) {
        self.0[kind.index()] += weight;
    }

    pub(super) fn merge(&mut self, other: &Votes) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    pub(super) fn winner(&self) -> Kind {
        let best = self.0.iter().copied().max().unwrap_or(0);
        if best == 0 {
            return Kind::Concept;
        }
        Kind::PRIORITY[self.0.iter().position(|v| *v == best).unwrap_or(8)]
    }
}

/// One sentence with its words.
pub(crate) struct Sentence<'a> {
    /// The sentence text, trimmed.
    pub text: &'a str,
    /// Its words, with byte offsets into `text`.
    pub words: Vec<Word<'a>>,
}

/// An entity of the chunk after aliases are merged.
#[derive(Clone, Debug)]
pub(crate) struct Entity {
    /// Display name: the first full form seen.
    pub name: String,
    /// Voted type.
    pub kind: Kind,
    /// Indices of the sentences mentioning it, ascending, distinct.
    pub sentences: Vec<usize>,
    /// How many mentions (aliases included) it has.
    pub mentions: usize,
}

/// A resolved mention: which entity, and which words of its sentence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placed {
    /// Index into [`Analysis::entities`].
    pub entity: usize,
    /// First word index of the mention.
    pub first: usize,
    /// Last word index of the mention (inclusive).
    pub last: usize,
}

/// Sentences, entities (in order of first mention) and where each is mentioned.
pub(crate) struct Analysis<'a> {
    /// The sentences of the text.
    pub sentences: Vec<Sentence<'a>>,
    /// Distinct entities, in order of first mention.
    pub entities: Vec<Entity>,
    /// Per sentence, its resolved mentions in word order.
    pub placed: Vec<Vec<Placed>>,
}

/// A capitalised run of words in one sentence, before aliases are resolved.
#[derive(Clone, Debug)]
pub(super) struct Run {
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) honorific: bool,
}

/// A name found in a sentence.
#[derive(Clone, Debug)]
pub(super) struct Mention {
    pub(super) sentence: usize,
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) surface: String,
    pub(super) key: String,
    pub(super) tokens: Vec<String>,
    pub(super) votes: Votes,
}

/// Chunk-wide facts that the per-sentence rules consult.
#[derive(Default)]
pub(super) struct ChunkFacts {
    /// Lowercased words seen capitalised somewhere other than at a sentence start.
    pub(super) mid_caps: BTreeSet<String>,
    /// Lowercased words seen written in lowercase.
    pub(super) lower: BTreeSet<String>,
}
