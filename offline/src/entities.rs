//! Rule-based named-entity detection, alias merging and typing for the offline
//! extractor.
//!
//! # Rules
//! * **Names** are runs of capitalised words (or camel-case words like "iPhone", or
//!   acronyms like "NASA"), separated only by spaces, that may contain the connectors
//!   of/for/de/da/van/von/… before a further capitalised word ("University of Paris",
//!   "Leonardo da Vinci"); "the" only after another connector ("Bank of the West");
//!   "on"/"in" only after an event, prize or committee word ("Nobel Prize in
//!   Physics"). Two names joined by "and"/"&" merge when the second ends in an
//!   organisation word ("National Aeronautics and Space Administration"). A run ends
//!   after a possessive ("Curie's") and at eight words.
//! * **Skipped**: stop words ("The", "However", "During" …) and calendar words never
//!   start a name; a single capitalised word that starts a sentence counts only if the
//!   chunk also has it capitalised mid-sentence; a phrase that starts a sentence loses
//!   its first word when that word also appears in lowercase ("Scientists Marie Curie"
//!   → "Marie Curie"). Single letters and lone roman numerals are not names. Sentences
//!   written entirely in capitals are skipped: case says nothing there.
//! * **Honorifics** (Mr, Dr, Prof, President, Queen …) are dropped from the name and
//!   make it a person, unless the name contains an organisation or place word
//!   ("Queen Mary University").
//! * **Aliases** merge into one entity: a single word that is the last word of a
//!   longer name in the chunk ("Curie" → the most recently mentioned of "Marie Curie"
//!   / "Pierre Curie"), a common given name that starts exactly such a name ("Marie"),
//!   plural and possessive forms ("the Curies", "Curie's"), and an acronym defined in
//!   brackets after its expansion ("Space Administration (NASA)").
//! * **Types** come from votes over all mentions: strong signals (weight 3) are an
//!   honorific, an organisation/place/event/prize/document/method/artifact word at the
//!   end (or head) of the name, and a short gazetteer of countries and large cities;
//!   a common given name at the start of a two- or three-word name weighs 2, as does
//!   a place verb before the name ("born in", "based in"); weak cues (weight 1) are "who"
//!   or "married" after the name, use of its last word alone (a surname), "the" before
//!   an acronym (an organisation), "joined"/"founded" before it. Ties go to the earlier
//!   kind in [`Kind::PRIORITY`]; without any signal a name is a concept. A bare pair of
//!   capitalised words is *not* taken as a person ("Nobel Prize"): a given name, an
//!   honorific, a surname alias or a person cue has to say so.

use super::lexicon;
use super::text::{self, Word};
use std::collections::{BTreeMap, BTreeSet};

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

const STRONG: u32 = 3;
const MEDIUM: u32 = 2;
const CUE: u32 = 1;

/// Longest name, in words, connectors included.
const MAX_RUN_WORDS: usize = 8;

/// Longest name, in chars; longer capitalised runs are noise (titles, shouting).
const MAX_NAME_CHARS: usize = 120;

/// Type votes, indexed by [`Kind::PRIORITY`].
#[derive(Clone, Copy, Debug, Default)]
struct Votes([u32; 9]);

impl Votes {
    fn add(&mut self, kind: Kind, weight: u32) {
        self.0[kind.index()] += weight;
    }

    fn merge(&mut self, other: &Votes) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }

    fn winner(&self) -> Kind {
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
struct Run {
    first: usize,
    last: usize,
    honorific: bool,
}

/// A name found in a sentence.
#[derive(Clone, Debug)]
struct Mention {
    sentence: usize,
    first: usize,
    last: usize,
    surface: String,
    key: String,
    tokens: Vec<String>,
    votes: Votes,
}

/// Chunk-wide facts that the per-sentence rules consult.
#[derive(Default)]
struct ChunkFacts {
    /// Lowercased words seen capitalised somewhere other than at a sentence start.
    mid_caps: BTreeSet<String>,
    /// Lowercased words seen written in lowercase.
    lower: BTreeSet<String>,
}

/// Finds, merges and types the entities of `text`.
pub(crate) fn analyse(text: &str) -> Analysis<'_> {
    let sentences: Vec<Sentence<'_>> = text::sentences(text)
        .into_iter()
        .map(|s| Sentence {
            text: s,
            words: text::words(s),
        })
        .collect();
    let facts = chunk_facts(&sentences);
    let mut mentions = Vec::new();
    let mut acronyms = BTreeMap::new();
    for (index, sentence) in sentences.iter().enumerate() {
        if is_shouting(sentence) {
            continue;
        }
        let runs = merge_and_runs(sentence, find_runs(sentence));
        record_acronyms(sentence, &runs, &mut acronyms);
        for run in runs {
            if let Some(mention) = make_mention(index, sentence, run, &facts) {
                mentions.push(mention);
            }
        }
    }
    resolve(sentences, mentions, &acronyms)
}

fn chunk_facts(sentences: &[Sentence<'_>]) -> ChunkFacts {
    let mut facts = ChunkFacts::default();
    for sentence in sentences {
        for (i, word) in sentence.words.iter().enumerate() {
            let lower = text::strip_possessive(word.text).to_lowercase();
            if !starts_clause(sentence, i) && is_name_token(word.text) {
                facts.mid_caps.insert(lower);
            } else if word.text.chars().next().is_some_and(char::is_lowercase) {
                facts.lower.insert(lower);
            }
        }
    }
    facts
}

/// A sentence of at least three words without a single lowercase letter.
fn is_shouting(sentence: &Sentence<'_>) -> bool {
    sentence.words.len() >= 3 && !sentence.text.chars().any(char::is_lowercase)
}

/// Whether word `i` starts the sentence or a clause in which capitals say nothing:
/// a table cell, the text after a colon, a quotation.
fn starts_clause(sentence: &Sentence<'_>, i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let gap = &sentence.text[sentence.words[i - 1].end..sentence.words[i].start];
    gap.contains(['|', ':', '"', '“', '•'])
}

/// Mixed-case or letter-and-digit words ("NetworkX", "iPhone", "Neo4j", "GPT-4o") are
/// names wherever they stand.
fn is_distinctive(word: &str) -> bool {
    let mut chars = word.chars().filter(|c| c.is_alphanumeric());
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    let rest: Vec<char> = chars.collect();
    let inner_upper = rest.iter().any(|c| c.is_uppercase());
    let has_lower = rest.iter().any(|c| c.is_lowercase());
    let has_digit = word.chars().any(|c| c.is_ascii_digit());
    let has_letter = word.chars().any(char::is_alphabetic);
    (inner_upper && has_lower) || (has_digit && has_letter && (first_upper || inner_upper))
}

/// Capitalised (or camel-case) word of sane length.
fn is_name_token(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if word.chars().count() > text::MAX_WORD_CHARS {
        return false;
    }
    first.is_uppercase() || (first.is_alphabetic() && chars.any(char::is_uppercase))
}

/// At least two letters, all uppercase, at most ten chars ("NASA", "COVID-19").
fn is_acronym(word: &str) -> bool {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase()) && word.chars().count() <= 10
}

fn is_roman_numeral(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| "IVXLCDM".contains(c))
}

fn lower_of(word: &str) -> String {
    text::strip_possessive(word).to_lowercase()
}

/// Words that cannot start or continue a name: stop words, except in capitals ("US",
/// "IT" and "WHO" are names).
fn is_stopish(word: &str) -> bool {
    let lower = lower_of(word);
    if is_acronym(word) {
        return matches!(
            lower.as_str(),
            "ok" | "am" | "pm" | "ie" | "eg" | "etc" | "vs"
        );
    }
    lexicon::is_stop_word(&lower)
}

fn ends_possessive(word: &str) -> bool {
    text::strip_possessive(word).len() != word.len()
}

/// Whether words `a` and `b` of `sentence` are adjacent within one name: only plain
/// spaces between them, or the full stop of an initial or abbreviation ("J. K.").
fn joins(sentence: &Sentence<'_>, a: usize, b: usize) -> bool {
    let (wa, wb) = (sentence.words[a], sentence.words[b]);
    let gap = &sentence.text[wa.end..wb.start];
    if !gap.is_empty() && gap.chars().all(|c| c == ' ' || c == '\t') {
        return true;
    }
    let initial = wa.text.chars().count() == 1 && wa.text.chars().all(char::is_uppercase);
    initial && matches!(gap, "." | ". ")
}

/// Whether the connector `word` may follow the name word `prev` (`nth` connectors in).
fn connector_allowed(prev: &str, word: &str, nth: usize) -> bool {
    match word {
        "the" => nth > 0,
        "on" | "in" => {
            nth == 0
                && (lexicon::is_event_word(prev)
                    || lexicon::is_concept_suffix(prev)
                    || matches!(prev, "committee" | "commission" | "council"))
        }
        _ => true,
    }
}

/// The capitalised runs of one sentence, honorifics noted and dropped.
fn find_runs(sentence: &Sentence<'_>) -> Vec<Run> {
    let words = &sentence.words;
    let mut runs = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].text;
        if !is_name_token(word) {
            i += 1;
            continue;
        }
        if let Some(run) = honorific_run(sentence, i) {
            i = run.last + 1;
            runs.push(run);
            continue;
        }
        let lower = lower_of(word);
        if lexicon::is_calendar_word(&lower) && !is_stopish(word) {
            let last = extend_run(sentence, i);
            if last > i && lexicon::is_event_word(&lower_of(words[last].text)) {
                runs.push(Run {
                    first: i,
                    last,
                    honorific: false,
                });
                i = last + 1;
            } else {
                i += 1;
            }
            continue;
        }
        if is_stopish(word) || lexicon::is_honorific(&lower) {
            i += 1;
            continue;
        }
        let last = extend_run(sentence, i);
        runs.push(Run {
            first: i,
            last,
            honorific: false,
        });
        i = last + 1;
    }
    runs
}

/// A run that starts with up to three honorifics followed by a name.
fn honorific_run(sentence: &Sentence<'_>, at: usize) -> Option<Run> {
    let words = &sentence.words;
    let mut j = at;
    while j < words.len() && j - at < 3 && lexicon::is_honorific(&lower_of(words[j].text)) {
        if j > at && !joins(sentence, j - 1, j) {
            return None;
        }
        j += 1;
    }
    let is_name = |k: usize| {
        is_name_token(words[k].text)
            && !is_stopish(words[k].text)
            && !lexicon::is_honorific(&lower_of(words[k].text))
    };
    let honorific_joins =
        |k: usize| joins(sentence, k - 1, k) || honorific_with_dot(sentence, k - 1, k);
    if j == at
        || j >= words.len()
        || !is_name(j)
        || !honorific_joins(j)
        || ends_possessive(words[j - 1].text)
    {
        return None;
    }
    let last = extend_run(sentence, j);
    let institutional = (j..=last).any(|k| {
        let lower = lower_of(words[k].text);
        lexicon::is_organization_suffix(&lower) || lexicon::is_location_suffix(&lower)
    });
    Some(if institutional {
        Run {
            first: at,
            last,
            honorific: false,
        }
    } else {
        Run {
            first: j,
            last,
            honorific: true,
        }
    })
}

/// "Dr. Smith": an abbreviated honorific, its full stop, then the name.
fn honorific_with_dot(sentence: &Sentence<'_>, a: usize, b: usize) -> bool {
    let (wa, wb) = (sentence.words[a], sentence.words[b]);
    matches!(&sentence.text[wa.end..wb.start], ". " | ".")
}

/// Last word index of the run that starts at `first`.
fn extend_run(sentence: &Sentence<'_>, first: usize) -> usize {
    let words = &sentence.words;
    let mut last = first;
    if ends_possessive(words[first].text) {
        return last;
    }
    while last + 1 < words.len() && last + 1 - first < MAX_RUN_WORDS {
        let prev_lower = lower_of(words[last].text);
        let mut next = last + 1;
        let mut connectors = 0;
        while next < words.len() && connectors < 2 {
            let lower = words[next].text.to_lowercase();
            let is_connector = lexicon::is_connector(&lower)
                && !words[next].text.chars().all(char::is_uppercase)
                && connector_allowed(&prev_lower, &lower, connectors)
                && joins(sentence, next - 1, next);
            if !is_connector {
                break;
            }
            connectors += 1;
            next += 1;
        }
        let Some(word) = words.get(next) else { break };
        let fits = is_name_token(word.text)
            && !is_stopish(word.text)
            && !lexicon::is_honorific(&lower_of(word.text))
            && joins(sentence, next - 1, next)
            && next - first < MAX_RUN_WORDS;
        if !fits {
            break;
        }
        last = next;
        if ends_possessive(word.text) {
            break;
        }
    }
    last
}

/// Merges "A and B" / "A & B" when B ends in an organisation word.
fn merge_and_runs(sentence: &Sentence<'_>, runs: Vec<Run>) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::with_capacity(runs.len());
    for run in runs {
        if let Some(prev) = out.last_mut()
            && and_joined(sentence, prev, &run)
        {
            prev.last = run.last;
            continue;
        }
        out.push(run);
    }
    out
}

fn and_joined(sentence: &Sentence<'_>, a: &Run, b: &Run) -> bool {
    let words = &sentence.words;
    if b.honorific || !lexicon::is_organization_suffix(&lower_of(words[b.last].text)) {
        return false;
    }
    if b.first == a.last + 2 {
        let middle = a.last + 1;
        return words[middle].text.eq_ignore_ascii_case("and")
            && joins(sentence, a.last, middle)
            && joins(sentence, middle, b.first);
    }
    b.first == a.last + 1 && sentence.text[words[a.last].end..words[b.first].start].trim() == "&"
}

/// Notes "Long Name (ACRONYM)" when the acronym spells the name's initials.
fn record_acronyms(sentence: &Sentence<'_>, runs: &[Run], acronyms: &mut BTreeMap<String, String>) {
    let words = &sentence.words;
    for pair in runs.windows(2) {
        let (long, short) = (&pair[0], &pair[1]);
        if short.first != short.last
            || long.first == long.last
            || !is_acronym(words[short.first].text)
        {
            continue;
        }
        let between = &sentence.text[words[long.last].end..words[short.first].start];
        let after = &sentence.text[words[short.first].end..];
        if between.trim() != "(" || !after.trim_start().starts_with(')') {
            continue;
        }
        let initials: String = (long.first..=long.last)
            .map(|k| words[k].text)
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .filter_map(|w| w.chars().next())
            .collect();
        let letters: String = words[short.first]
            .text
            .chars()
            .filter(|c| c.is_alphabetic())
            .collect();
        if initials == letters {
            let long_key = run_key(sentence, long.first, long.last);
            acronyms
                .entry(lower_of(words[short.first].text))
                .or_insert(long_key);
        }
    }
}

/// Display form of words `first..=last`: original spelling, spaces collapsed,
/// possessive dropped.
fn run_surface(sentence: &Sentence<'_>, first: usize, last: usize) -> String {
    let words = &sentence.words;
    let last_word = words[last];
    let end = last_word.start + text::strip_possessive(last_word.text).len();
    text::squash(&sentence.text[words[first].start..end])
}

fn run_key(sentence: &Sentence<'_>, first: usize, last: usize) -> String {
    run_surface(sentence, first, last).to_lowercase()
}

/// Applies the sentence-start rules to a run and builds its mention, if it stays.
fn make_mention(
    index: usize,
    sentence: &Sentence<'_>,
    run: Run,
    facts: &ChunkFacts,
) -> Option<Mention> {
    let words = &sentence.words;
    let mut first = run.first;
    if starts_clause(sentence, first) && !run.honorific && run.last > first {
        let lead = lower_of(words[first].text);
        if !facts.mid_caps.contains(&lead) && facts.lower.contains(&lead) {
            first += 1;
            while first < run.last && lexicon::is_connector(&words[first].text.to_lowercase()) {
                first += 1;
            }
        }
    }
    let single = first == run.last;
    let word = words[first].text;
    if single {
        let lower = lower_of(word);
        let bare_letter = word.chars().count() < 2 || is_roman_numeral(word);
        let unconfirmed = starts_clause(sentence, first)
            && !run.honorific
            && !is_acronym(word)
            && !is_distinctive(word)
            && !facts.mid_caps.contains(&lower);
        if bare_letter || unconfirmed || is_stopish(word) {
            return None;
        }
    }
    let surface = run_surface(sentence, first, run.last);
    if surface.chars().count() > MAX_NAME_CHARS {
        return None;
    }
    let tokens: Vec<String> = (first..=run.last)
        .map(|k| lower_of(words[k].text))
        .collect();
    let key = match tokens.split_last() {
        Some((last, rest)) if !rest.is_empty() && lexicon::is_legal_form(last) => {
            run_key(sentence, first, run.last - 1)
        }
        _ => surface.to_lowercase(),
    };
    let votes = mention_votes(sentence, first, run.last, run.honorific, &key, &tokens);
    Some(Mention {
        sentence: index,
        first,
        last: run.last,
        surface,
        key,
        tokens,
        votes,
    })
}

/// Type votes from the words of the name and its neighbours.
fn mention_votes(
    sentence: &Sentence<'_>,
    first: usize,
    last: usize,
    honorific: bool,
    key: &str,
    tokens: &[String],
) -> Votes {
    let mut votes = Votes::default();
    if honorific {
        votes.add(Kind::Person, STRONG);
    }
    if lexicon::is_known_place(key) {
        votes.add(Kind::Location, STRONG);
    }
    if lexicon::is_known_organization(key) {
        votes.add(Kind::Organization, STRONG);
    }
    if tokens.len() == 1 && lexicon::is_natural_object(key) {
        votes.add(Kind::NaturalObject, STRONG);
    }
    if tokens.len() == 1 && lexicon::is_single_word_event(key) {
        votes.add(Kind::Event, STRONG);
    }
    if tokens.len() >= 2 {
        name_word_votes(tokens, &mut votes);
        if looks_like_personal_name(sentence, first, last, tokens) {
            votes.add(Kind::Person, MEDIUM);
        }
    }
    context_votes(sentence, first, last, &mut votes);
    votes
}

/// A lookup in one of the word lists.
type WordTest = fn(&str) -> bool;

/// Votes from the head (last non-numeral) word and the first word of a multi-word name.
fn name_word_votes(tokens: &[String], votes: &mut Votes) {
    let head = tokens
        .iter()
        .rev()
        .find(|t| {
            !t.chars()
                .all(|c| c.is_ascii_digit() || "ivxlcdm".contains(c))
        })
        .map_or("", String::as_str);
    let suffix_kinds: [(WordTest, Kind); 8] = [
        (lexicon::is_organization_suffix, Kind::Organization),
        (lexicon::is_location_suffix, Kind::Location),
        (lexicon::is_event_word, Kind::Event),
        (lexicon::is_concept_suffix, Kind::Concept),
        (lexicon::is_content_suffix, Kind::Content),
        (lexicon::is_method_suffix, Kind::Method),
        (lexicon::is_artifact_suffix, Kind::Artifact),
        (lexicon::is_natural_object, Kind::NaturalObject),
    ];
    let singular = head.strip_suffix('s').unwrap_or(head);
    if let Some((_, kind)) = suffix_kinds
        .iter()
        .find(|(test, _)| test(head) || test(singular))
    {
        votes.add(*kind, STRONG);
    }
    let connector_at = tokens
        .iter()
        .position(|t| matches!(t.as_str(), "of" | "for"));
    let followed_by_connector = connector_at.is_some();
    let lead = connector_at
        .and_then(|at| at.checked_sub(1))
        .map_or(tokens[0].as_str(), |at| tokens[at].as_str());
    if followed_by_connector && lexicon::is_organization_head(lead) {
        votes.add(Kind::Organization, STRONG);
    } else if followed_by_connector && matches!(lead, "battle" | "siege" | "war" | "treaty") {
        let kind = if lead == "treaty" {
            Kind::Content
        } else {
            Kind::Event
        };
        votes.add(kind, STRONG);
    } else if matches!(
        lead,
        "mount" | "mt" | "lake" | "cape" | "gulf" | "bay" | "isle" | "fort" | "river"
    ) || followed_by_connector && lexicon::is_location_head(lead)
    {
        votes.add(Kind::Location, STRONG);
    } else if lexicon::is_location_head(lead) {
        votes.add(Kind::Location, CUE);
    }
}

/// Two or three alphabetic title-case words starting with a common given name.
fn looks_like_personal_name(
    sentence: &Sentence<'_>,
    first: usize,
    last: usize,
    tokens: &[String],
) -> bool {
    let title_case = (first..=last).all(|k| {
        let w = sentence.words[k].text;
        let mut chars = w.chars();
        chars.next().is_some_and(char::is_uppercase)
            && chars.all(|c| !c.is_uppercase() || c == '\'')
            || lexicon::is_connector(&w.to_lowercase())
    });
    (2..=4).contains(&tokens.len()) && title_case && lexicon::is_given_name(&tokens[0])
}

/// Votes from the words around the name.
fn context_votes(sentence: &Sentence<'_>, first: usize, last: usize, votes: &mut Votes) {
    let words = &sentence.words;
    let lower_at = |k: usize| words.get(k).map(|w| w.text.to_lowercase());
    let before = first.checked_sub(1).and_then(lower_at);
    let before2 = first.checked_sub(2).and_then(lower_at);
    let after = lower_at(last + 1);
    let after2 = lower_at(last + 2);
    let (before, before2) = (before.as_deref(), before2.as_deref());
    if matches!(before, Some("in" | "at" | "from" | "near" | "to" | "into"))
        && before2.is_some_and(lexicon::is_place_cue)
    {
        votes.add(Kind::Location, MEDIUM);
    }
    if before == Some("of")
        && matches!(
            before2,
            Some("capital" | "city" | "town" | "village" | "outskirts" | "suburbs" | "streets")
        )
    {
        votes.add(Kind::Location, MEDIUM);
    }
    if after.as_deref().is_some_and(lexicon::is_person_cue_after)
        || matches!(after.as_deref(), Some("was" | "is")) && after2.as_deref() == Some("born")
    {
        votes.add(Kind::Person, CUE);
    }
    if matches!(
        before,
        Some("joined" | "founded" | "co-founded" | "acquired")
    ) {
        votes.add(Kind::Organization, CUE);
    }
    if before == Some("the") && first == last && is_acronym(words[first].text) {
        votes.add(Kind::Organization, CUE);
    }
}

/// Maps every mention to its entity and builds the entity list.
fn resolve<'a>(
    sentences: Vec<Sentence<'a>>,
    mentions: Vec<Mention>,
    acronyms: &BTreeMap<String, String>,
) -> Analysis<'a> {
    let aliases = AliasIndex::new(&mentions);
    let mut entities: Vec<Entity> = Vec::new();
    let mut votes: Vec<Votes> = Vec::new();
    let mut index_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut placed: Vec<Vec<Placed>> = sentences.iter().map(|_| Vec::new()).collect();
    for mention in &mentions {
        let (key, via_surname) = aliases.canonical(mention, acronyms, &index_of, &entities);
        let entity = *index_of.entry(key.clone()).or_insert_with(|| {
            let name = aliases
                .surfaces
                .get(&key)
                .cloned()
                .unwrap_or_else(|| mention.surface.clone());
            entities.push(Entity {
                name,
                kind: Kind::Concept,
                sentences: Vec::new(),
                mentions: 0,
            });
            votes.push(Votes::default());
            entities.len() - 1
        });
        let record = &mut entities[entity];
        record.mentions += 1;
        if record.sentences.last() != Some(&mention.sentence) {
            record.sentences.push(mention.sentence);
        }
        votes[entity].merge(&mention.votes);
        if via_surname {
            votes[entity].add(Kind::Person, CUE);
        }
        placed[mention.sentence].push(Placed {
            entity,
            first: mention.first,
            last: mention.last,
        });
    }
    for (entity, vote) in entities.iter_mut().zip(&votes) {
        entity.kind = vote.winner();
    }
    Analysis {
        sentences,
        entities,
        placed,
    }
}

/// Lookups for alias resolution, built from all mentions of the chunk.
struct AliasIndex {
    /// First surface seen for each key.
    surfaces: BTreeMap<String, String>,
    /// Last word → keys of longer names ending in it, in order of first mention.
    by_last: BTreeMap<String, Vec<String>>,
    /// Given name → keys of longer names starting with it.
    by_first: BTreeMap<String, Vec<String>>,
}

impl AliasIndex {
    fn new(mentions: &[Mention]) -> Self {
        let mut index = AliasIndex {
            surfaces: BTreeMap::new(),
            by_last: BTreeMap::new(),
            by_first: BTreeMap::new(),
        };
        for mention in mentions {
            index
                .surfaces
                .entry(mention.key.clone())
                .or_insert_with(|| mention.surface.clone());
            let (Some(first), Some(last)) = (mention.tokens.first(), mention.tokens.last()) else {
                continue;
            };
            if !is_person_shaped(&mention.tokens) {
                continue;
            }
            push_unique(index.by_last.entry(last.clone()).or_default(), &mention.key);
            if lexicon::is_given_name(first) {
                push_unique(
                    index.by_first.entry(first.clone()).or_default(),
                    &mention.key,
                );
            }
        }
        index
    }

    /// The entity key `mention` belongs to, and whether it was reached as a surname.
    fn canonical(
        &self,
        mention: &Mention,
        acronyms: &BTreeMap<String, String>,
        seen: &BTreeMap<String, usize>,
        entities: &[Entity],
    ) -> (String, bool) {
        if let Some(long) = acronyms.get(&mention.key) {
            return (long.clone(), false);
        }
        if mention.tokens.len() != 1 {
            return (mention.key.clone(), false);
        }
        let key = mention.key.as_str();
        let singular = key.strip_suffix('s').filter(|s| s.chars().count() >= 2);
        if let Some(found) = self
            .by_last
            .get(key)
            .or_else(|| singular.and_then(|s| self.by_last.get(s)))
        {
            return (most_recent(found, seen, entities), true);
        }
        if let Some(found) = self.by_first.get(key).filter(|f| f.len() == 1) {
            return (found[0].clone(), false);
        }
        match singular {
            Some(s) if self.surfaces.contains_key(s) => (s.to_string(), false),
            _ => (mention.key.clone(), false),
        }
    }
}

/// Two to four words, no "of"/"for"/"the"/"on"/"in", and no last word that names an
/// organisation, place, event or thing: the names whose last word can stand alone for
/// them ("Curie"), unlike "University of Paris" → "Paris" or "Acme Labs" → "Labs".
fn is_person_shaped(tokens: &[String]) -> bool {
    let Some(last) = tokens.last() else {
        return false;
    };
    let suffix = [
        lexicon::is_organization_suffix,
        lexicon::is_location_suffix,
        lexicon::is_event_word,
        lexicon::is_concept_suffix,
        lexicon::is_content_suffix,
        lexicon::is_method_suffix,
        lexicon::is_artifact_suffix,
        lexicon::is_natural_object,
    ]
    .iter()
    .any(|test| test(last));
    (2..=4).contains(&tokens.len())
        && !suffix
        && !lexicon::is_known_place(last)
        && !tokens
            .iter()
            .any(|t| matches!(t.as_str(), "of" | "for" | "the" | "on" | "in" | "and"))
}

fn push_unique(list: &mut Vec<String>, key: &str) {
    if !list.iter().any(|k| k == key) {
        list.push(key.to_string());
    }
}

/// The candidate whose entity was mentioned last so far (its latest sentence; ties:
/// more mentions so far, then first mentioned), else the first candidate.
fn most_recent(
    candidates: &[String],
    seen: &BTreeMap<String, usize>,
    entities: &[Entity],
) -> String {
    candidates
        .iter()
        .filter_map(|key| {
            let index = *seen.get(key)?;
            let entity = &entities[index];
            let latest = entity.sentences.last().copied().unwrap_or(0);
            Some(((latest, entity.mentions, std::cmp::Reverse(index)), key))
        })
        .max_by_key(|(rank, _)| *rank)
        .map_or_else(|| candidates[0].clone(), |(_, key)| key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, Kind)> {
        analyse(text)
            .entities
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect()
    }

    fn kind_of(text: &str, name: &str) -> Option<Kind> {
        names(text)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k)
    }

    #[test]
    fn finds_multiword_names_with_connectors() {
        let got = names("She studied at the University of Paris and met Leonardo da Vinci fans.");
        let got: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, vec!["University of Paris", "Leonardo da Vinci"]);
    }

    #[test]
    fn skips_stop_words_and_unconfirmed_sentence_starts() {
        let got = names("However, the team won. During March it rained. Rain fell on Oslo.");
        let got: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, vec!["Oslo"]);
    }

    #[test]
    fn confirms_sentence_start_when_seen_mid_sentence() {
        let got = names("Curie worked hard. Everyone admired Curie.");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "Curie");
    }

    #[test]
    fn merges_surname_plural_and_possessive_aliases() {
        let text = "Marie Curie was born in Warsaw. Curie's laboratory was small. \
                    The Curies lived in Paris. Pierre Curie married Marie Curie. Curie smiled.";
        let analysis = analyse(text);
        let names: Vec<&str> = analysis.entities.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["Marie Curie", "Warsaw", "Paris", "Pierre Curie"]
        );
        assert_eq!(
            analysis.entities[0].mentions, 5,
            "a tie goes to the most mentioned"
        );
        assert_eq!(analysis.entities[3].mentions, 1);
    }

    #[test]
    fn a_surname_goes_to_the_most_recently_mentioned_bearer() {
        let analysis = analyse("Marie Curie studied radium. Pierre Curie spoke. Curie laughed.");
        let counts: Vec<(&str, usize)> = analysis
            .entities
            .iter()
            .map(|e| (e.name.as_str(), e.mentions))
            .collect();
        assert_eq!(counts, vec![("Marie Curie", 1), ("Pierre Curie", 2)]);
        assert!(analysis.entities.iter().all(|e| e.kind == Kind::Person));
    }

    #[test]
    fn legal_forms_and_possessives_merge_organisations() {
        let analysis = analyse("Apple Inc. hired staff. Later Apple's profits rose at Apple.");
        assert_eq!(analysis.entities.len(), 1);
        assert_eq!(analysis.entities[0].name, "Apple Inc");
        assert_eq!(analysis.entities[0].kind, Kind::Organization);
        assert_eq!(analysis.entities[0].mentions, 3);
    }

    #[test]
    fn distinctive_words_count_at_sentence_starts_and_table_cells_do_not() {
        let got = names("- NetworkX stores graphs\n| Option | Default |\nMilvus stores vectors.");
        let got: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, vec!["NetworkX"]);
    }

    #[test]
    fn honorifics_make_people_and_are_dropped() {
        assert_eq!(
            kind_of("We met Dr. Alan Grant yesterday.", "Alan Grant"),
            Some(Kind::Person)
        );
        assert_eq!(
            kind_of("Then Prof. Xavier spoke.", "Xavier"),
            Some(Kind::Person)
        );
        assert_eq!(
            kind_of(
                "She joined Queen Mary University today.",
                "Queen Mary University"
            ),
            Some(Kind::Organization)
        );
    }

    #[test]
    fn types_by_suffix_and_gazetteer() {
        let text = "Acme Labs sent staff from Poland to the Geneva Summit near Lake Tahoe. \
                    They wrote the Paris Agreement and won the Turing Award using the Simplex Method.";
        assert_eq!(kind_of(text, "Acme Labs"), Some(Kind::Organization));
        assert_eq!(kind_of(text, "Poland"), Some(Kind::Location));
        assert_eq!(kind_of(text, "Geneva Summit"), Some(Kind::Event));
        assert_eq!(kind_of(text, "Lake Tahoe"), Some(Kind::Location));
        assert_eq!(kind_of(text, "Paris Agreement"), Some(Kind::Content));
        assert_eq!(kind_of(text, "Turing Award"), Some(Kind::Concept));
        assert_eq!(kind_of(text, "Simplex Method"), Some(Kind::Method));
    }

    #[test]
    fn acronym_expansion_and_org_and_merge() {
        let text =
            "The National Aeronautics and Space Administration (NASA) flew. Later NASA landed.";
        let got = names(text);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, "National Aeronautics and Space Administration");
        assert_eq!(got[0].1, Kind::Organization);
    }

    #[test]
    fn and_between_people_does_not_merge() {
        let got = names("It was Marie and Pierre Curie who won.");
        let got: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(got, vec!["Marie", "Pierre Curie"]);
    }

    #[test]
    fn nobel_prize_is_not_a_person() {
        assert_eq!(
            kind_of("She won the Nobel Prize twice.", "Nobel Prize"),
            Some(Kind::Concept)
        );
        assert_eq!(
            kind_of(
                "She won the Nobel Prize in Physics.",
                "Nobel Prize in Physics"
            ),
            Some(Kind::Concept)
        );
        assert_eq!(
            kind_of("They fought in World War II.", "World War II"),
            Some(Kind::Event)
        );
    }

    #[test]
    fn place_verbs_make_locations() {
        assert_eq!(
            kind_of("He was born in Zagorsk last year.", "Zagorsk"),
            Some(Kind::Location)
        );
    }

    #[test]
    fn shouting_sentences_are_ignored() {
        assert!(names("THIS IS ALL CAPS TEXT").is_empty());
        assert_eq!(names("The NASA budget grew.").len(), 1);
    }
}
