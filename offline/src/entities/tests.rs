//! Tests of the entity rules.

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
    let text = "The National Aeronautics and Space Administration (NASA) flew. Later NASA landed.";
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
