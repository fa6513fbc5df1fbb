//! The scale benchmarks' corpus: documents of 2–4 KB (one chunk each) about a
//! recurring cast of 110 people, organisations and places, as real corpora have — the
//! same names in many documents. Shared by `host/benches/scale.rs` (through the server)
//! and `guest/examples/scale_profile.rs` (the engine alone).

const GIVEN: &[&str] = &[
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Keiko",
    "Liam", "Mira", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tomas",
];
const FAMILY: &[&str] = &["Marsh", "Keller", "Voss"];
const ORGS: &[&str] = &[
    "Halden Shipping",
    "Vesper Institute",
    "Northgate Trust",
    "Ridge Observatory",
    "Amber Mills",
    "Cobalt Works",
    "Delta Ferries",
    "Ember Bank",
    "Falcon Press",
    "Granite Guild",
    "Harbour Board",
    "Iris Clinic",
    "Juniper College",
    "Kite Airways",
    "Lumen Labs",
    "Maple Council",
    "Nova Foundry",
    "Onyx Mining",
    "Pine Railways",
    "Quartz Studio",
    "Raven Archive",
    "Saffron Trading",
    "Tidewater Bank",
    "Umber Textiles",
    "Violet Theatre",
    "Willow Hospital",
    "Xenon Power",
    "Yarrow Farms",
    "Zephyr Yachts",
    "Atlas Insurance",
];
const PLACES: &[&str] = &[
    "Port Halden",
    "Vesper Bay",
    "Northgate",
    "Kestrel Ridge",
    "Old Mill Harbour",
    "Amberfield",
    "Cobalt Point",
    "Deltaville",
    "Embergate",
    "Falcon Heights",
    "Granite Falls",
    "Harrowby",
    "Iris Lake",
    "Junction City",
    "Kingsmere",
    "Lowmarsh",
    "Millbrook",
    "Newhaven",
    "Oakridge",
    "Pinecrest",
];

/// The 110 names of the cast: 60 people, 30 organisations, 20 places.
pub fn cast() -> Vec<String> {
    let mut people: Vec<String> = GIVEN
        .iter()
        .flat_map(|g| FAMILY.iter().map(move |f| format!("{g} {f}")))
        .collect();
    people.extend(ORGS.iter().map(|s| s.to_string()));
    people.extend(PLACES.iter().map(|s| s.to_string()));
    people
}

/// Document `i`: a few of the cast in a short story, padded to 2–4 KB.
pub fn document(i: usize, cast: &[String]) -> String {
    let pick = |k: usize| &cast[(i * 7919 + k * 104_729) % cast.len()];
    let (a, b, org, place) = (pick(1), pick(2), &cast[60 + i % 30], &cast[90 + i % 20]);
    let mut text = format!(
        "Report {i}. {a} met {b} at {org} in {place}. {a} signed the ledger for {org}. \
         {b} later sailed from {place} with {c}. ",
        c = pick(3)
    );
    let target = 2000 + (i * 37) % 2000;
    let mut n = 0;
    while text.len() < target {
        n += 1;
        text.push_str(&format!(
            "on day {n} the clerks counted {} crates, {} barrels and {} sacks at the quay, \
             and the tide tables were copied into the log book before the evening bell. ",
            (i + n) % 97,
            (i * n) % 53,
            (i + 3 * n) % 71
        ));
    }
    text
}
