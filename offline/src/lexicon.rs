//! Small word lists behind the offline extractor's rules.
//!
//! They are deliberately short and general: function words that start sentences but
//! never name anything, honorifics, and head or suffix words that reveal what kind of
//! thing a capitalised phrase names ("… University", "Mount …", "… War"). A short
//! gazetteer of countries, continents and large cities, and of common given names,
//! types the most frequent names that carry no such word. Every lookup takes a
//! lowercase word.

/// Defines `pub(crate) fn $name(word: &str) -> bool`, a lookup in a set built once.
macro_rules! word_set {
    ($(#[$doc:meta])* $name:ident: [$($word:literal),* $(,)?]) => {
        $(#[$doc])*
        pub(crate) fn $name(word: &str) -> bool {
            static SET: std::sync::OnceLock<std::collections::BTreeSet<&'static str>> =
                std::sync::OnceLock::new();
            SET.get_or_init(|| [$($word),*].into_iter().collect()).contains(word)
        }
    };
}

word_set! {
    /// Function words and discourse markers: never an entity on their own, never the
    /// first word of a name, and never a relation keyword.
    is_stop_word: [
        "a", "about", "above", "according", "across", "actually", "after", "afterwards",
        "again", "against", "ago", "all", "almost", "along", "already", "also", "although",
        "always", "am", "among", "amongst", "an", "and", "another", "any", "anyone",
        "anything", "anyway", "are", "around", "as", "at", "back", "be", "became", "because",
        "become", "becomes", "been", "before", "beforehand", "began", "behind", "being",
        "below", "beside", "besides", "between", "beyond", "both", "but", "by", "can",
        "cannot", "could", "currently", "did", "do", "does", "doing", "done", "down",
        "during", "each", "early", "earlier", "either", "else", "elsewhere", "enough",
        "especially", "etc", "even", "eventually", "ever", "every", "everyone",
        "everything", "everywhere", "except", "few", "finally", "first", "firstly", "for",
        "former", "formerly", "from", "further", "furthermore", "had", "has", "have",
        "having", "he", "hence", "her", "here", "hers", "herself", "him", "himself", "his",
        "how", "however", "i", "if", "in", "indeed", "instead", "into", "is", "it", "its",
        "itself", "just", "last", "later", "latter", "least", "less", "let", "like",
        "likewise", "may", "maybe", "me", "meanwhile", "might", "mine", "more",
        "moreover", "most", "mostly", "much", "must", "my", "myself", "namely", "near",
        "nearly", "neither", "never", "nevertheless", "new", "next", "no", "nobody",
        "none", "nonetheless", "nor", "not", "nothing", "now", "nowhere", "of", "off",
        "often", "on", "once", "one", "only", "onto", "or", "other", "others", "otherwise",
        "our", "ours", "ourselves", "out", "over", "overall", "own", "per", "perhaps",
        "please", "quite", "rather", "really", "recently", "same", "second", "secondly",
        "several", "shall", "she", "should", "similarly", "since", "so", "some", "someone",
        "something", "sometimes", "somewhere", "soon", "still", "subsequently", "such",
        "than", "that", "the", "their", "theirs", "them", "themselves", "then", "thence",
        "there", "thereafter", "thereby", "therefore", "these", "they", "third", "this",
        "those", "though", "through", "throughout", "thus", "to", "together", "too",
        "toward", "towards", "two", "under", "unless", "until", "up", "us", "use",
        "used", "using", "very", "via", "was", "we", "well", "were", "what", "whatever",
        "when", "whenever", "where", "whereas", "whether", "which", "while", "who",
        "whoever", "whole", "whom", "whose", "why", "will", "with", "within", "without",
        "would", "yes", "yet", "you", "your", "yours", "yourself", "yourselves",
        "today", "tomorrow", "tonight", "yesterday", "thanks", "dear", "hello", "hi",
        "ok", "okay", "oh", "note", "see", "tell", "explain", "describe", "list", "give",
        "show", "find", "compare", "summarize", "summarise", "define", "discuss", "get",
        "got", "make", "made", "said", "says", "say", "know", "known", "many", "lot",
        "lots", "thing", "things", "way", "ways", "kind", "kinds", "part", "parts",
        "include", "includes", "including", "included", "based", "related", "regarding",
        "concerning", "various", "certain", "given", "whereby", "wherein", "upon",
    ]
}

word_set! {
    /// Months, weekdays and seasons: dates are not entities in this extractor.
    is_calendar_word: [
        "january", "february", "march", "april", "may", "june", "july", "august",
        "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun",
        "jul", "aug", "sep", "sept", "oct", "nov", "dec", "monday", "tuesday", "wednesday",
        "thursday", "friday", "saturday", "sunday", "spring", "summer", "autumn", "winter",
    ]
}

word_set! {
    /// Lowercase words allowed inside a name when a capitalised word follows them
    /// ("University of Paris", "Leonardo da Vinci", "Institute for Advanced Study").
    is_connector: [
        "of", "for", "de", "da", "di", "del", "della", "der", "den", "des", "du", "la",
        "le", "van", "von", "y", "the", "on", "in",
    ]
}

word_set! {
    /// Titles that announce a person's name; they are dropped from the name itself.
    is_honorific: [
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord",
        "lady", "rev", "reverend", "fr", "president", "king", "queen", "prince", "princess",
        "pope", "gen", "col", "colonel", "capt", "captain", "lt", "lieutenant",
        "sgt", "sergeant", "sen", "senator", "rep", "gov", "governor", "judge", "mayor",
        "chancellor", "emperor", "empress", "duke", "duchess", "countess",
        "baron", "baroness", "madame", "monsieur", "herr", "frau", "señor",
        "señora", "uncle", "aunt", "officer", "detective", "inspector", "chairman",
        "chairwoman", "ceo", "minister", "premier",
    ]
}

word_set! {
    /// Abbreviations whose full stop does not end a sentence.
    is_abbreviation: [
        "mr", "mrs", "ms", "mx", "dr", "prof", "rev", "fr", "gen", "col", "capt", "lt",
        "sgt", "sen", "rep", "gov", "st", "jr", "sr", "vs", "no", "nos", "fig", "figs",
        "eq", "approx", "ca", "cf", "al", "vol", "pp", "mt", "ft", "inc", "corp", "ltd",
        "co", "dept", "univ", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec",
    ]
}

word_set! {
    /// Last words of organisation names.
    is_organization_suffix: [
        "inc", "corp", "corporation", "co", "company", "companies", "ltd", "llc", "llp",
        "plc", "gmbh", "ag", "sa", "nv", "bv", "university", "universität", "université",
        "college", "school", "academy", "agency", "institute", "institution", "labs",
        "lab", "laboratory", "laboratories", "association", "foundation", "society",
        "council", "committee", "commission", "ministry", "department", "bank", "group",
        "party", "administration", "services", "service", "bureau", "union", "federation",
        "organization", "organisation", "club", "team", "systems", "technologies",
        "industries", "holdings", "partners", "ventures", "studios", "records", "press",
        "publishing", "hospital", "clinic", "museum", "library", "church", "army", "navy",
        "force", "police", "court", "parliament", "senate", "congress", "assembly",
        "government", "office", "authority", "board", "network", "airlines", "airways",
        "motors", "pharmaceuticals", "consortium", "alliance", "league", "guild",
        "cooperative", "trust", "fund",
    ]
}

word_set! {
    /// First words of organisation names when followed by a connector ("Bank of …").
    is_organization_head: [
        "university", "institute", "bank", "department", "ministry", "academy", "college",
        "school", "museum", "church", "council", "committee", "board", "office", "bureau",
        "agency", "commission", "society", "association", "federation", "league",
        "order", "house", "court", "centre", "center", "federal", "national", "royal",
    ]
}

word_set! {
    /// Last words of place names.
    is_location_suffix: [
        "river", "city", "town", "village", "mountain", "mount", "hill",
        "hills", "lake", "island", "islands", "isles", "street", "avenue", "road", "lane",
        "boulevard", "square", "bay", "ocean", "sea", "valley", "county", "province",
        "state", "region", "district", "park", "bridge", "desert", "forest", "peninsula",
        "gulf", "coast", "canyon", "falls", "beach", "harbor", "harbour", "port", "strait",
        "channel", "kingdom", "republic", "territory", "prefecture", "oblast", "heights",
        "plaza", "airport", "station", "cathedral", "castle", "palace", "tower", "basin",
        "plateau", "delta", "reef", "glacier", "mountains", "highlands", "lowlands",
        "capital", "metropolis",
    ]
}

word_set! {
    /// First words of place names ("Mount Everest", "Lake Geneva", "Republic of …").
    is_location_head: [
        "mount", "mt", "lake", "cape", "gulf", "bay", "isle", "island", "port", "fort",
        "river", "republic", "kingdom", "city", "state", "province", "sea", "strait",
        "county", "saint", "san", "santa", "sao", "são", "los", "las", "el", "new",
        "north", "south", "east", "west", "upper", "lower", "greater",
    ]
}

word_set! {
    /// Words that make a name an event ("World War II", "Battle of …", "… Summit").
    is_event_word: [
        "war", "wars", "battle", "siege", "conference", "summit", "festival", "olympics",
        "olympiad", "games", "championship", "championships", "cup", "revolution",
        "election", "elections", "crisis", "pandemic", "epidemic", "expo", "exhibition",
        "symposium", "workshop", "tournament", "massacre", "uprising", "rebellion",
        "invasion", "campaign", "meeting", "forum", "convention", "ceremony", "marathon",
        "riots", "strike", "protests", "coup", "raid", "disaster", "earthquake",
        "hurricane", "storm", "flood", "famine", "era", "age", "dynasty", "period",
        "renaissance", "reformation", "awards", "gala", "week", "day", "launch", "mission",
    ]
}

word_set! {
    /// Events named by one word.
    is_single_word_event: [
        "olympics", "olympiad", "paralympics", "renaissance", "reformation", "holocaust",
        "brexit", "enlightenment", "apartheid", "prohibition", "ramadan", "christmas",
        "easter", "hanukkah", "diwali", "thanksgiving", "halloween", "worldcup",
    ]
}

word_set! {
    /// Last words of named ideas, laws of nature, prizes and diseases.
    is_concept_suffix: [
        "prize", "award", "medal", "theory", "theorem", "principle", "effect", "law",
        "laws", "equation", "paradox", "hypothesis", "conjecture", "syndrome", "disease",
        "constant", "number", "problem", "doctrine", "ism", "philosophy", "religion",
        "language", "standard", "index", "scale", "rule", "rules", "paradigm",
    ]
}

word_set! {
    /// Last words of documents, publications and works.
    is_content_suffix: [
        "journal", "review", "magazine", "report", "act", "treaty", "agreement",
        "declaration", "constitution", "manifesto", "gazette", "chronicle", "book",
        "novel", "album", "song", "film", "movie", "series", "show", "paper", "papers",
        "bible", "gospel", "letter", "charter", "accord", "accords", "protocol", "code",
        "bill", "edition", "encyclopedia", "dictionary", "handbook", "manual", "guide",
        "times", "post", "herald", "tribune", "news", "daily", "weekly", "quarterly",
        "proceedings", "transactions", "letters", "podcast", "blog", "article", "episode",
    ]
}

word_set! {
    /// Last words of named methods and procedures.
    is_method_suffix: [
        "algorithm", "method", "technique", "procedure", "approach", "process",
        "transform", "transformation", "analysis", "regression", "sort", "search",
        "encoding", "scheme", "strategy", "methodology", "test", "therapy", "treatment",
        "diet", "training",
    ]
}

word_set! {
    /// Last words of made things: instruments, vehicles, machines, products.
    is_artifact_suffix: [
        "telescope", "rover", "satellite", "probe", "spacecraft", "engine", "device",
        "machine", "computer", "processor", "chip", "phone", "vaccine", "drug", "tool",
        "car", "ship", "aircraft", "plane", "rocket", "train", "weapon", "bomb", "reactor",
        "microscope", "camera", "console", "platform", "app", "software", "browser",
        "database", "framework", "compiler", "robot", "model",
    ]
}

word_set! {
    /// Names and last words of natural objects: planets, stars and landforms of the sky.
    is_natural_object: [
        "mercury", "venus", "earth", "mars", "jupiter", "saturn", "uranus", "neptune",
        "pluto", "moon", "sun", "comet", "asteroid", "galaxy", "nebula", "volcano",
        "meteor", "meteorite", "star", "constellation", "cluster", "cloud", "way",
    ]
}

word_set! {
    /// Words after a name that suggest a person ("Curie, who …", "… married …").
    is_person_cue_after: [
        "who", "whose", "married", "wrote", "died", "himself", "herself", "he", "she", "et",
    ]
}

word_set! {
    /// Words that, followed by "in", "at", "to", "from" or "near", announce a place:
    /// verbs of being somewhere and nouns of facilities.
    is_place_cue: [
        "born", "based", "lived", "lives", "living", "moved", "travelled",
        "traveled", "emigrated", "immigrated", "settled", "situated",
        "grew", "raised", "died", "arrived", "returned", "fled", "stationed", "buried",
        "resides", "resided", "stayed", "visited", "flew", "conference", "offices", "office",
        "headquarters", "headquartered", "lab", "laboratory", "campus", "embassy", "branch",
        "factory", "plant", "facility", "museum", "hospital", "summit", "meeting", "held",
        "located", "town", "village", "city", "airport", "port",
    ]
}

word_set! {
    /// Legal-form words ignored when matching organisation names ("Apple Inc." is
    /// "Apple").
    is_legal_form: [
        "inc", "corp", "ltd", "llc", "llp", "plc", "gmbh", "ag", "sa", "nv", "bv", "co",
        "srl", "spa", "oy", "ab", "as", "kk", "pty", "limited", "incorporated",
    ]
}

word_set! {
    /// Well-known organisations whose names carry no organisation word.
    is_known_organization: [
        "google", "microsoft", "apple", "amazon", "meta", "facebook", "ibm", "intel",
        "nvidia", "openai", "anthropic", "deepmind", "google deepmind", "samsung", "sony",
        "toyota", "tesla", "netflix", "oracle", "twitter", "alibaba", "tencent", "huawei",
        "siemens", "nasa", "esa", "cern", "unesco", "unicef", "nato", "who", "fbi", "cia",
        "un", "eu", "imf", "opec", "interpol", "greenpeace", "wikipedia", "reuters", "bbc",
        "cnn", "nokia", "ericsson", "spacex", "boeing", "airbus", "volkswagen", "bmw",
        "mercedes-benz", "ford", "honda", "pfizer", "moderna", "harvard", "stanford",
        "mit", "oxford university", "github", "linkedin", "youtube", "uber", "airbnb",
        "salesforce", "adobe", "cisco", "dell", "hp", "lenovo", "xiaomi", "baidu",
        "bytedance", "tiktok", "paypal", "visa", "mastercard", "goldman sachs",
        "jpmorgan", "eth zurich", "epfl", "meta platforms", "alphabet",
    ]
}

word_set! {
    /// Common given names, to tell "Marie Curie" (a person) from "Nobel Prize".
    is_given_name: [
        "aaron", "abigail", "adam", "adrian", "ahmed", "aisha", "albert",
        "alberto", "alex", "alexander", "alexandra", "alfred", "ali", "alice", "alicia",
        "alan", "amanda", "amelia", "amy", "ana", "andrea", "andrew", "andrés", "angela",
        "anna", "anne", "anthony", "antoine", "antonio", "arthur", "ben", "benjamin",
        "bernard", "bill", "bob", "brian", "bruce", "carl", "carla", "carlos", "carmen",
        "caroline", "catherine", "charles", "charlie", "charlotte", "chen", "chris",
        "christian", "christina", "christopher", "claire", "claude", "daniel", "david",
        "deborah", "diana", "diego", "dmitri", "dorothy", "edward", "elena", "elizabeth",
        "ella", "ellen", "emily", "emma", "emmanuel", "eric", "erik", "ernest", "eva",
        "fatima", "felix", "fernando", "francesca", "francis", "francisco", "françois",
        "frank", "franz", "frederick", "friedrich", "gabriel", "george", "georg",
        "gerald", "giovanni", "giuseppe", "grace", "hannah", "hans", "harold", "harry",
        "heinrich", "helen", "henri", "henry", "hiroshi", "hugo", "ian", "igor", "irene",
        "isaac", "isabel", "isabella", "ivan", "jack", "jacob", "jacques", "james",
        "jane", "janet", "jason", "javier", "jean", "jeff", "jennifer", "jessica", "jim",
        "joan", "johann", "johannes", "john", "jonathan", "jorge", "josé", "jose",
        "joseph", "joshua", "juan", "judith", "julia", "julian", "julie", "karen", "karl",
        "kate", "katherine", "kevin", "klaus", "laura", "lauren", "leo", "leonardo",
        "lily", "linda", "lisa", "louis", "louise", "lucas", "lucy", "ludwig", "luis",
        "luke", "margaret", "marie", "mario", "mark", "martin", "mary",
        "matthew", "max", "maria", "michael", "michel", "michelle", "miguel", "mohammed",
        "muhammad", "nancy", "natalia", "nicholas", "nicolas", "niels", "nikola",
        "nina", "noah", "olga", "oliver", "olivia", "oscar", "otto", "pablo", "patricia",
        "patrick", "paul", "paula", "pedro", "peter", "philip", "philippe", "pierre",
        "pietro", "rachel", "rafael", "ravi", "raymond", "rebecca", "richard", "robert",
        "roberto", "roger", "rosa", "rose", "ruth", "ryan", "samuel", "sandra", "sara",
        "sarah", "sergei", "simon", "sofia", "sophie", "stefan", "stephen", "steve",
        "steven", "susan", "thomas", "tim", "timothy", "tom", "victor", "victoria",
        "vincent", "walter", "wei", "werner", "william", "wolfgang", "yuki", "zoe",
    ]
}

word_set! {
    /// Countries, continents and large cities, lowercase, as whole names.
    is_known_place: [
        "afghanistan", "albania", "algeria", "andorra", "angola", "argentina", "armenia",
        "australia", "austria", "azerbaijan", "bahamas", "bahrain", "bangladesh",
        "barbados", "belarus", "belgium", "belize", "benin", "bhutan", "bolivia",
        "bosnia", "botswana", "brazil", "brunei", "bulgaria", "burkina faso", "burundi",
        "cambodia", "cameroon", "canada", "chad", "chile", "china", "colombia", "comoros",
        "congo", "costa rica", "croatia", "cuba", "cyprus", "czech republic", "czechia",
        "denmark", "djibouti", "dominica", "ecuador", "egypt", "el salvador", "eritrea",
        "estonia", "eswatini", "ethiopia", "fiji", "finland", "france", "gabon", "gambia",
        "georgia", "germany", "ghana", "greece", "grenada", "guatemala", "guinea",
        "guyana", "haiti", "honduras", "hungary", "iceland", "india", "indonesia", "iran",
        "iraq", "ireland", "israel", "italy", "jamaica", "japan", "jordan", "kazakhstan",
        "kenya", "kiribati", "kosovo", "kuwait", "kyrgyzstan", "laos", "latvia",
        "lebanon", "lesotho", "liberia", "libya", "liechtenstein", "lithuania",
        "luxembourg", "madagascar", "malawi", "malaysia", "maldives", "mali", "malta",
        "mauritania", "mauritius", "mexico", "micronesia", "moldova", "monaco",
        "mongolia", "montenegro", "morocco", "mozambique", "myanmar", "namibia", "nauru",
        "nepal", "netherlands", "new zealand", "nicaragua", "niger", "nigeria",
        "north korea", "north macedonia", "norway", "oman", "pakistan", "palau",
        "palestine", "panama", "papua new guinea", "paraguay", "peru", "philippines",
        "poland", "portugal", "qatar", "romania", "russia", "rwanda", "samoa",
        "san marino", "saudi arabia", "senegal", "serbia", "seychelles", "sierra leone",
        "singapore", "slovakia", "slovenia", "somalia", "south africa", "south korea",
        "south sudan", "spain", "sri lanka", "sudan", "suriname", "sweden", "switzerland",
        "syria", "taiwan", "tajikistan", "tanzania", "thailand", "togo", "tonga",
        "trinidad", "tunisia", "turkey", "türkiye", "turkmenistan", "tuvalu", "uganda",
        "ukraine", "united arab emirates", "united kingdom", "united states", "uruguay",
        "uzbekistan", "vanuatu", "vatican", "venezuela", "vietnam", "yemen", "zambia",
        "zimbabwe", "england", "scotland", "wales", "britain", "great britain", "usa",
        "uk", "us", "america", "africa", "asia", "europe", "antarctica", "oceania",
        "north america", "south america", "latin america", "middle east", "arctic",
        "siberia", "scandinavia", "balkans", "caribbean", "mediterranean", "sahara",
        "amsterdam", "athens", "atlanta", "bangkok", "barcelona", "beijing", "berlin",
        "bogotá", "bogota", "boston", "brussels", "budapest", "buenos aires", "cairo",
        "cape town", "chicago", "copenhagen", "delhi", "dhaka", "dubai", "dublin",
        "edinburgh", "florence", "frankfurt", "geneva", "hamburg", "hong kong",
        "houston", "istanbul", "jakarta", "jerusalem", "johannesburg", "karachi", "kyiv",
        "kiev", "kolkata", "kyoto", "lagos", "lima", "lisbon", "london", "los angeles",
        "lyon", "madrid", "manchester", "manila", "marseille", "melbourne", "mexico city",
        "miami", "milan", "montreal", "moscow", "mumbai", "munich", "nairobi", "naples",
        "new delhi", "new york", "new york city", "osaka", "oslo", "ottawa", "oxford",
        "cambridge", "paris", "philadelphia", "prague", "rio de janeiro", "rome",
        "san francisco", "santiago", "são paulo", "sao paulo", "seattle", "seoul",
        "shanghai", "stockholm", "sydney", "taipei", "tehran", "tel aviv", "tokyo",
        "toronto", "vancouver", "venice", "vienna", "warsaw", "washington", "zurich",
        "california", "texas", "florida", "bavaria", "normandy", "tuscany", "kraków",
        "krakow", "lviv", "gdańsk", "gdansk",
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_take_lowercase_words() {
        assert!(is_stop_word("the"));
        assert!(!is_stop_word("The"));
        assert!(is_calendar_word("march"));
        assert!(is_known_place("poland"));
        assert!(is_known_place("united states"));
        assert!(is_given_name("marie"));
        assert!(is_organization_suffix("university"));
        assert!(is_event_word("war"));
        assert!(!is_known_place("curie"));
    }
}
