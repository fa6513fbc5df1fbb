//! What an import reads, writes and leaves out, per kind of record, with the reasons
//! for what it leaves out — the contract's `import-counts`.

use crate::wit::{ImportCounts, ImportTable};

/// Distinct skip reasons kept per table; further ones are only counted, on one more
/// line, so a table has at most 20 lines of reasons.
const MAX_REASONS: usize = 19;

/// One reason for skipping records: how many, and the first one's name.
#[derive(Clone, Debug)]
struct Reason {
    what: String,
    count: u32,
    example: String,
}

/// The counts of one kind of record.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub read: u32,
    pub imported: u32,
    pub skipped: u32,
    reasons: Vec<Reason>,
    /// Skips whose reason did not fit in the list.
    other: u32,
}

impl Tally {
    /// Counts a record skipped because of `what`; `example` names it (the first one
    /// per reason is kept).
    pub fn skip(&mut self, what: &str, example: &str) {
        self.skipped += 1;
        self.note(what, example);
    }

    /// Records a reason without counting a skipped record (a record imported in
    /// part, e.g. an entity that lost some of its chunks).
    pub fn note(&mut self, what: &str, example: &str) {
        if let Some(reason) = self.reasons.iter_mut().find(|r| r.what == what) {
            reason.count += 1;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.push(Reason {
                what: what.to_string(),
                count: 1,
                example: example.to_string(),
            });
        } else {
            self.other += 1;
        }
    }

    /// Adds another step's counts to these.
    pub fn add(&mut self, other: &Tally) {
        self.read += other.read;
        self.imported += other.imported;
        self.skipped += other.skipped;
        for reason in &other.reasons {
            let full = self.reasons.len() >= MAX_REASONS;
            match self.reasons.iter_mut().find(|r| r.what == reason.what) {
                Some(mine) => mine.count += reason.count,
                None if !full => self.reasons.push(reason.clone()),
                None => self.other += reason.count,
            }
        }
        self.other += other.other;
    }

    /// The reasons as lines: `what: count (e.g. example)`.
    pub fn reasons(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .reasons
            .iter()
            .map(|r| format!("{}: {} (e.g. {})", r.what, r.count, r.example))
            .collect();
        if self.other > 0 {
            lines.push(format!("other reasons: {}", self.other));
        }
        lines
    }

    fn to_wit(&self) -> ImportTable {
        ImportTable {
            read: self.read,
            imported: self.imported,
            skipped: self.skipped,
            skip_reasons: self.reasons(),
        }
    }
}

/// The counts of every kind of record an import touches.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub documents: Tally,
    pub chunks: Tally,
    pub entities: Tally,
    pub relations: Tally,
    pub cache: Tally,
}

impl Counts {
    /// Adds another step's counts to these.
    pub fn add(&mut self, other: &Counts) {
        self.documents.add(&other.documents);
        self.chunks.add(&other.chunks);
        self.entities.add(&other.entities);
        self.relations.add(&other.relations);
        self.cache.add(&other.cache);
    }

    /// In the contract's types.
    pub fn to_wit(&self) -> ImportCounts {
        ImportCounts {
            documents: self.documents.to_wit(),
            chunks: self.chunks.to_wit(),
            entities: self.entities.to_wit(),
            relations: self.relations.to_wit(),
            cache: self.cache.to_wit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_grouped_counted_and_capped() {
        let mut tally = Tally::default();
        tally.skip("no vector", "c1");
        tally.skip("no vector", "c2");
        for i in 0..25 {
            tally.skip(&format!("reason {i}"), "x");
        }
        assert_eq!(tally.skipped, 27);
        let lines = tally.reasons();
        assert_eq!(lines[0], "no vector: 2 (e.g. c1)");
        assert_eq!(lines.len(), MAX_REASONS + 1);
        assert_eq!(
            lines[MAX_REASONS],
            format!("other reasons: {}", 26 - MAX_REASONS)
        );
        let mut total = Tally::default();
        total.add(&tally);
        total.add(&tally);
        assert_eq!(total.skipped, 54);
        assert_eq!(total.reasons()[0], "no vector: 4 (e.g. c1)");
    }
}
