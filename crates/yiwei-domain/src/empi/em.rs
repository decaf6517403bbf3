//! Learning the weights from a county's own records: `m` and `u` of every level of every
//! field estimated from pairs of records, the way Splink trains a Fellegi–Sunter model
//! (R. Linacre et al., "Splink: Free software for probabilistic record linkage at scale",
//! *International Journal of Population Data Science* 7 (2022); the EM algorithm for record
//! linkage is W. E. Winkler's, "Using the EM algorithm for weight computation in the
//! Fellegi–Sunter model of record linkage", 1988).
//!
//! The caller (the store, or the `match_eval` example over two files) finds the pairs and
//! reduces each to its [`Pattern`], the level of each of the eight fields; this module only
//! counts. Training has three steps:
//!
//! 1. **`u` from random pairs** ([`estimate_u`]). Two records drawn at random are almost
//!    never the same person, so the share of random pairs showing a level is that level's
//!    `u`. A level never seen among them is given half an occurrence, so no weight is
//!    infinite.
//! 2. **`m` by expectation maximisation, one session per blocking rule** ([`em`]). The
//!    pairs that share a blocking key (the same birth date, say) hold many true matches, so
//!    EM can tell the two classes apart. With `u` fixed, it alternates between the share of
//!    each pair that is a match (E) and the `m` and share of matches that make those shares
//!    most likely (M). A field the session blocked on agrees in every one of its pairs, so
//!    it says nothing there: it is left out of that session's likelihood and its `m` held
//!    at what it was. Each field's final `m` is the mean over the sessions that estimated
//!    it. EM stops when no `m` and not the share of matches moves by more than
//!    [`EmOptions::tolerance`], or after [`EmOptions::max_iterations`] (then training
//!    fails: the weights did not settle).
//! 3. **The prior** `λ`, the probability that two records drawn at random are one person,
//!    from each session's share of matches with the blocking undone: the block holds a
//!    share `|B|` of all pairs ([`Session::share`]), of which a share `λ_B` are matches, and
//!    a match falls in the block with probability `m_B` (its agreement on the blocked
//!    fields), so `λ = λ_B · |B| / m_B`. The sessions' estimates are combined by their
//!    geometric mean (the mean of the log-odds). Splink instead asks for deterministic
//!    rules and a guess of their recall; here the recall is `m_B`, estimated.
//!
//! The decision then follows from the prior as in [`Thresholds::from_prior`]: a pair whose
//! evidence overcomes the prior odds is more likely a match than not (Splink's match
//! probability ≥ 0.5, match weight ≥ 0), and goes at least to review; 10 bits above (1000 to
//! 1) it links.
//!
//! A field too rarely recorded to estimate (fewer than [`EmOptions::min_observed`] random
//! pairs where both sides have it, or no session with enough expected matches that have it)
//! keeps its default `m` and `u`, and [`Trained::estimated`] says so. Weights that would be
//! degenerate (a field whose agreement weighs no more than its disagreement) are refused.
//!
//! Everything here is deterministic: counts are kept in sorted maps, so the sums run in the
//! same order every time.

use std::collections::BTreeMap;

use super::{FieldName, FieldWeights, Level, Person, Probabilities, Thresholds, Weights, compare};

/// The compared fields, in the order [`compare`](super::compare) returns them.
pub const FIELDS: [FieldName; 8] = [
    FieldName::IdCard,
    FieldName::Name,
    FieldName::Sex,
    FieldName::BirthDate,
    FieldName::Phone,
    FieldName::Village,
    FieldName::Household,
    FieldName::Address,
];

/// The levels that carry a weight, in the order of a [`Table`] row.
pub const LEVELS: [Level; 3] = [Level::Exact, Level::Close, Level::Disagree];

/// Per field (in the order of [`FIELDS`]), per level (in the order of [`LEVELS`]).
pub type Table = [[f64; 3]; 8];

fn field_index(field: FieldName) -> usize {
    match field {
        FieldName::IdCard => 0,
        FieldName::Name => 1,
        FieldName::Sex => 2,
        FieldName::BirthDate => 3,
        FieldName::Phone => 4,
        FieldName::Village => 5,
        FieldName::Household => 6,
        FieldName::Address => 7,
    }
}

fn level_code(level: Level) -> u16 {
    match level {
        Level::Exact => 0,
        Level::Close => 1,
        Level::Disagree => 2,
        Level::Missing => 3,
    }
}

/// The levels of the eight fields of one pair, two bits each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pattern(u16);

impl Pattern {
    /// The pattern of a pair, by the matcher's own comparisons.
    pub fn of(a: &Person, b: &Person) -> Pattern {
        let mut levels = [Level::Missing; 8];
        for (slot, c) in levels.iter_mut().zip(compare(a, b, &Weights::default())) {
            *slot = c.level;
        }
        Pattern::from_levels(levels)
    }

    /// From the levels of the fields in the order of [`FIELDS`].
    pub fn from_levels(levels: [Level; 8]) -> Pattern {
        Pattern(
            levels
                .iter()
                .enumerate()
                .fold(0, |p, (f, l)| p | (level_code(*l) << (2 * f))),
        )
    }

    /// The level of one field.
    pub fn level(self, field: FieldName) -> Level {
        match self.code(field_index(field)) {
            0 => Level::Exact,
            1 => Level::Close,
            2 => Level::Disagree,
            _ => Level::Missing,
        }
    }

    /// 0 exact, 1 close, 2 disagree, 3 missing.
    fn code(self, f: usize) -> usize {
        usize::from((self.0 >> (2 * f)) & 3)
    }
}

/// How many pairs showed each pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatternCounts(BTreeMap<Pattern, u64>);

impl PatternCounts {
    pub fn new() -> PatternCounts {
        PatternCounts::default()
    }

    pub fn add(&mut self, pattern: Pattern) {
        self.add_n(pattern, 1);
    }

    pub fn add_n(&mut self, pattern: Pattern, n: u64) {
        if n > 0 {
            *self.0.entry(pattern).or_default() += n;
        }
    }

    /// Add another count (from another thread or batch).
    pub fn merge(&mut self, other: &PatternCounts) {
        for (p, n) in &other.0 {
            self.add_n(*p, *n);
        }
    }

    /// The number of pairs counted.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The patterns and their counts, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (Pattern, u64)> + '_ {
        self.0.iter().map(|(p, n)| (*p, *n))
    }

    /// Pairs in which `field` is recorded on both sides.
    pub fn observed(&self, field: FieldName) -> u64 {
        let f = field_index(field);
        self.iter()
            .filter(|(p, _)| p.code(f) < 3)
            .map(|(_, n)| n)
            .sum()
    }
}

impl FromIterator<Pattern> for PatternCounts {
    fn from_iter<I: IntoIterator<Item = Pattern>>(iter: I) -> PatternCounts {
        let mut counts = PatternCounts::new();
        counts.extend(iter);
        counts
    }
}

impl Extend<Pattern> for PatternCounts {
    fn extend<I: IntoIterator<Item = Pattern>>(&mut self, iter: I) {
        for p in iter {
            self.add(p);
        }
    }
}

/// A field a training session blocked on, and the levels its pairs show on it: the same
/// birth date is `Exact`; the same pinyin key of a name is `Exact` or `Close`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blocked {
    pub field: FieldName,
    pub levels: &'static [Level],
}

impl Blocked {
    /// Blocked on the same value.
    pub const fn exact(field: FieldName) -> Blocked {
        Blocked {
            field,
            levels: &[Level::Exact],
        }
    }

    /// Blocked on a key that alike values share (a name's pinyin key).
    pub const fn alike(field: FieldName) -> Blocked {
        Blocked {
            field,
            levels: &[Level::Exact, Level::Close],
        }
    }
}

/// The pairs of one blocking rule.
#[derive(Clone, Debug)]
pub struct Session {
    /// What the pairs share, for people (`same birth date`).
    pub rule: String,
    pub blocked: Vec<Blocked>,
    /// The pairs of the rule, all of them or a uniform sample.
    pub pairs: PatternCounts,
    /// The share of all pairs (of the county, or of the two files) that the rule's block
    /// holds: its number of pairs, not only those sampled, over the number of all pairs.
    pub share: f64,
}

/// When EM stops and how much data training asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmOptions {
    pub max_iterations: u32,
    /// EM has converged when no `m` and not the share of matches moves by more than this in
    /// one iteration.
    pub tolerance: f64,
    /// Fewest random pairs for `u`.
    pub min_random_pairs: u64,
    /// Fewest pairs for a session to be used.
    pub min_pairs: u64,
    /// Fewest expected matches for a session to be used.
    pub min_matches: f64,
    /// Fewest random pairs with a field recorded on both sides, and fewest expected matches
    /// with it recorded on both sides, to estimate that field rather than keep its default.
    pub min_observed: f64,
}

impl Default for EmOptions {
    fn default() -> EmOptions {
        EmOptions {
            max_iterations: 1000,
            tolerance: 1e-6,
            min_random_pairs: 10_000,
            min_pairs: 100,
            min_matches: 20.0,
            min_observed: 20.0,
        }
    }
}

/// Why training gave no weights.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("too few random pairs to estimate u: {pairs} (at least {min} are needed)")]
    TooFewRandomPairs { pairs: u64, min: u64 },
    #[error(
        "no blocking rule gave enough pairs with enough likely matches to estimate m \
         (at least {min_pairs} pairs and {min_matches} expected matches are needed): {detail}"
    )]
    TooFewPairs {
        min_pairs: u64,
        min_matches: f64,
        detail: String,
    },
    #[error("the estimate of m did not settle after {iterations} iterations ({rule})")]
    NotConverged { rule: String, iterations: u32 },
    #[error(
        "degenerate weights for {}: agreement would weigh {exact:+.2} bits, no more than \
         disagreement ({disagree:+.2} bits)", .field.describe()
    )]
    Degenerate {
        field: FieldName,
        exact: f64,
        disagree: f64,
    },
    #[error("the estimated share of matching pairs is {prior}, not a usable probability")]
    NoPrior { prior: f64 },
}

/// The levels each field can show: those with any probability in `reference` (sex and
/// household have no close level).
fn used_levels(reference: &Weights) -> [[bool; 3]; 8] {
    let mut used = [[false; 3]; 8];
    for (f, field) in FIELDS.iter().enumerate() {
        let w = reference.field(*field);
        for (l, p) in [w.exact, w.close, w.disagree].iter().enumerate() {
            used[f][l] = p.m > 0.0 || p.u > 0.0;
        }
    }
    used
}

fn table_of(w: &Weights, pick: impl Fn(Probabilities) -> f64) -> Table {
    let mut t = [[0.0; 3]; 8];
    for (f, field) in FIELDS.iter().enumerate() {
        let fw = w.field(*field);
        t[f] = [pick(fw.exact), pick(fw.close), pick(fw.disagree)];
    }
    t
}

/// `u` of every level from pairs drawn at random: the share of the pairs that have the
/// field on both sides showing the level, with half an occurrence for a level never seen.
/// A field that no random pair has on both sides keeps `reference`'s `u`.
pub fn estimate_u(random: &PatternCounts, reference: &Weights) -> Table {
    let used = used_levels(reference);
    let mut u = table_of(reference, |p| p.u);
    for f in 0..FIELDS.len() {
        let mut n = [0u64; 3];
        for (p, c) in random.iter() {
            if let Some(slot) = n.get_mut(p.code(f)) {
                *slot += c;
            }
        }
        let total: u64 = n.iter().sum();
        if total == 0 {
            continue;
        }
        let seen: f64 = (0..3)
            .filter(|l| used[f][*l])
            .map(|l| (n[l] as f64).max(0.5))
            .sum();
        for l in 0..3 {
            u[f][l] = if used[f][l] {
                (n[l] as f64).max(0.5) / seen
            } else {
                0.0
            };
        }
    }
    u
}

/// The result of one EM session.
#[derive(Clone, Debug, PartialEq)]
pub struct EmFit {
    /// `m` after the session; rows of held fields are as they started.
    pub m: Table,
    /// The share of the session's pairs that are matches.
    pub lambda: f64,
    pub iterations: u32,
    pub converged: bool,
    /// Per field, the expected number of matches with the field recorded on both sides.
    pub observed_matches: [f64; 8],
}

/// Expectation maximisation of `m` and the share of matches among `pairs`, with `u` fixed
/// and the rows of `held` fields neither used nor changed.
pub fn em(
    pairs: &PatternCounts,
    start_m: &Table,
    u: &Table,
    start_lambda: f64,
    held: &[FieldName],
    options: &EmOptions,
) -> EmFit {
    let active: Vec<usize> = (0..FIELDS.len())
        .filter(|f| !held.contains(&FIELDS[*f]))
        .collect();
    let total = pairs.total() as f64;
    let mut m = *start_m;
    let mut lambda = start_lambda.clamp(1e-9, 1.0 - 1e-9);
    let mut observed = [0.0; 8];
    let mut iterations = 0;
    let mut converged = false;
    while iterations < options.max_iterations && total > 0.0 {
        iterations += 1;
        let mut acc = [[0.0f64; 3]; 8];
        let mut matches = 0.0;
        for (p, n) in pairs.iter() {
            let (mut lm, mut lu) = (lambda, 1.0 - lambda);
            for &f in &active {
                let l = p.code(f);
                if l < 3 {
                    lm *= m[f][l];
                    lu *= u[f][l];
                }
            }
            let share = if lm + lu > 0.0 { lm / (lm + lu) } else { 0.0 };
            let weight = n as f64 * share;
            matches += weight;
            for &f in &active {
                if let Some(slot) = acc[f].get_mut(p.code(f)) {
                    *slot += weight;
                }
            }
        }
        let new_lambda = (matches / total).clamp(1e-12, 1.0 - 1e-12);
        let mut change = (new_lambda - lambda).abs();
        lambda = new_lambda;
        for &f in &active {
            let sum: f64 = acc[f].iter().sum();
            observed[f] = sum;
            if sum <= 0.0 {
                continue;
            }
            // Levels the field can show get at least half an expected occurrence, as `u`.
            let used: Vec<usize> = (0..3).filter(|l| start_m[f][*l] > 0.0).collect();
            let smoothed: f64 = used.iter().map(|l| acc[f][*l].max(0.5)).sum();
            for l in 0..3 {
                let new = if used.contains(&l) {
                    acc[f][l].max(0.5) / smoothed
                } else {
                    0.0
                };
                change = change.max((new - m[f][l]).abs());
                m[f][l] = new;
            }
        }
        if change <= options.tolerance {
            converged = true;
            break;
        }
    }
    EmFit {
        m,
        lambda,
        iterations,
        converged,
        observed_matches: observed,
    }
}

/// What one session found.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionFit {
    pub rule: String,
    pub pairs: u64,
    /// Whether the session had enough pairs and matches to be used.
    pub used: bool,
    /// The share of the session's pairs that are matches.
    pub lambda: f64,
    /// The prior it implies for two records drawn at random (blocking undone).
    pub prior: f64,
    pub iterations: u32,
}

/// Trained weights and how they were found.
#[derive(Clone, Debug, PartialEq)]
pub struct Trained {
    pub weights: Weights,
    /// The probability that two records drawn at random are one person.
    pub prior: f64,
    /// From the prior, by [`Thresholds::from_prior`].
    pub thresholds: Thresholds,
    pub random_pairs: u64,
    pub sessions: Vec<SessionFit>,
    /// Per field (in the order of [`FIELDS`]), whether its `m` and `u` were estimated
    /// (false: too rarely recorded, the default is kept).
    pub estimated: [bool; 8],
}

impl Trained {
    pub fn estimated(&self, field: FieldName) -> bool {
        self.estimated[field_index(field)]
    }
}

/// The trained weights in bits beside the defaults, one line per field, for people: the
/// level weights (`log2 m/u`: exact / close / disagree), whether the field was estimated,
/// then the prior and the thresholds.
pub fn weights_table(trained: &Trained) -> String {
    use std::fmt::Write;
    let defaults = Weights::default();
    let bits = |w: &FieldWeights, used: [bool; 3]| {
        let mut out = String::new();
        for (l, level) in LEVELS.iter().enumerate() {
            if used[l] {
                let _ = write!(out, "{:>+7.1}", w.weight(*level));
            } else {
                out.push_str("      –");
            }
        }
        out
    };
    let used = used_levels(&defaults);
    let mut out = String::from(
        "field         trained: exact  close disagree   default: exact  close disagree\n",
    );
    for (f, field) in FIELDS.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:<12} {}{}   {}",
            field.describe(),
            if trained.estimated[f] { "  " } else { "* " },
            bits(trained.weights.field(*field), used[f]),
            bits(defaults.field(*field), used[f]),
        );
    }
    let d = Thresholds::default();
    let _ = writeln!(
        out,
        "prior {:.3e} per pair; review at {:.1} bits, link at {:.1} (default {:.1}, {:.1})",
        trained.prior, trained.thresholds.review, trained.thresholds.link, d.review, d.link
    );
    if trained.estimated.iter().any(|e| !e) {
        out.push_str(
            "* too rarely recorded (or only blocked on) to estimate: the default is kept\n",
        );
    }
    out
}

/// The share of blocked pairs that are matches, with the blocking undone: the prior for
/// two records drawn at random. The matches in the block are a share `λ_B · |B|` of all
/// pairs, and a share `m_B` of all matches: the probability that a match has the blocked
/// fields recorded on both sides (taken as among random pairs: whether a field is recorded
/// does not depend on whether two records are one person) and agreeing as the block asks.
/// So `λ = λ_B · |B| / m_B`.
fn unblocked_prior(
    lambda: f64,
    share: f64,
    blocked: &[Blocked],
    m: &Table,
    random: &PatternCounts,
) -> f64 {
    let mut m_block = 1.0;
    for b in blocked {
        let f = field_index(b.field);
        m_block *= random.observed(b.field) as f64 / random.total().max(1) as f64;
        m_block *= b
            .levels
            .iter()
            .filter_map(|l| m[f].get(usize::from(level_code(*l))))
            .sum::<f64>();
    }
    if m_block > 0.0 {
        (lambda * share / m_block).min(1.0)
    } else {
        f64::NAN
    }
}

/// `m`, the prior and the sessions' fits for one `u`.
struct Fitted {
    m: Table,
    estimated: [bool; 8],
    prior: f64,
    sessions: Vec<SessionFit>,
}

fn fit(
    random: &PatternCounts,
    sessions: &[Session],
    u: &Table,
    options: &EmOptions,
) -> Result<Fitted, TrainError> {
    let defaults = Weights::default();
    let start_m = table_of(&defaults, |p| p.m);
    let mut fits = Vec::new();
    let mut kept: Vec<(&Session, EmFit)> = Vec::new();
    let mut refused = Vec::new();
    for s in sessions {
        let held: Vec<FieldName> = s.blocked.iter().map(|b| b.field).collect();
        let pairs = s.pairs.total();
        let fit = em(&s.pairs, &start_m, u, 0.1, &held, options);
        if pairs > 0 && !fit.converged {
            return Err(TrainError::NotConverged {
                rule: s.rule.clone(),
                iterations: fit.iterations,
            });
        }
        let matches = fit.lambda * pairs as f64;
        let used = pairs >= options.min_pairs && matches >= options.min_matches;
        if !used {
            refused.push(format!(
                "{}: {pairs} pairs, {matches:.0} expected matches",
                s.rule
            ));
        }
        fits.push(SessionFit {
            rule: s.rule.clone(),
            pairs,
            used,
            lambda: fit.lambda,
            prior: 0.0,
            iterations: fit.iterations,
        });
        if used {
            kept.push((s, fit));
        }
    }
    if kept.is_empty() {
        return Err(TrainError::TooFewPairs {
            min_pairs: options.min_pairs,
            min_matches: options.min_matches,
            detail: if refused.is_empty() {
                "no blocking rule given".into()
            } else {
                refused.join("; ")
            },
        });
    }

    // m: per field, the mean over the sessions that estimated it from enough matches.
    let mut m = start_m;
    let mut estimated = [false; 8];
    for (f, field) in FIELDS.iter().enumerate() {
        let estimates: Vec<&[f64; 3]> = kept
            .iter()
            .filter(|(s, fit)| {
                !s.blocked.iter().any(|b| b.field == *field)
                    && fit.observed_matches[f] >= options.min_observed
            })
            .map(|(_, fit)| &fit.m[f])
            .collect();
        if estimates.is_empty() || (random.observed(*field) as f64) < options.min_observed {
            continue;
        }
        estimated[f] = true;
        for l in 0..3 {
            m[f][l] = estimates.iter().map(|e| e[l]).sum::<f64>() / estimates.len() as f64;
        }
    }
    // The prior: the geometric mean of the sessions' odds with their blocking undone.
    let mut log_odds = 0.0;
    for (s, fit) in &kept {
        let prior = unblocked_prior(fit.lambda, s.share, &s.blocked, &m, random);
        if let Some(f) = fits.iter_mut().find(|f| f.rule == s.rule && f.used) {
            f.prior = prior;
        }
        log_odds += (prior / (1.0 - prior)).ln();
    }
    let odds = (log_odds / kept.len() as f64).exp();
    let prior = odds / (1.0 + odds);
    if !(prior.is_finite() && prior > 0.0 && prior < 1.0) {
        return Err(TrainError::NoPrior { prior });
    }
    Ok(Fitted {
        m,
        estimated,
        prior,
        sessions: fits,
    })
}

/// `u` with the matches among the random pairs taken out: the share of random pairs at a
/// level is `(1 − λ)·u + λ·m`, so `u = (share − λ·m) / (1 − λ)`, at least half an
/// occurrence.
fn unmix(raw: &Table, random: &PatternCounts, fitted: &Fitted) -> Table {
    let mut u = *raw;
    let lambda = fitted.prior;
    for (f, field) in FIELDS.iter().enumerate() {
        if !fitted.estimated[f] {
            continue;
        }
        let floor = 0.5 / (random.observed(*field) as f64).max(1.0);
        let mut row = [0.0; 3];
        for l in 0..3 {
            if raw[f][l] > 0.0 {
                row[l] = ((raw[f][l] - lambda * fitted.m[f][l]) / (1.0 - lambda)).max(floor);
            }
        }
        let sum: f64 = row.iter().sum();
        if sum > 0.0 {
            u[f] = row.map(|x| x / sum);
        }
    }
    u
}

/// At most this many rounds of taking the matches out of `u` and fitting again.
const UNMIX_ROUNDS: usize = 20;

/// Estimate `m`, `u` and the prior (see the module docs). `random` are the patterns of pairs
/// drawn at random; `sessions` the pairs of each blocking rule.
///
/// Random pairs hold a share `λ` of matches, which makes a rare agreement (the same birth
/// date) look more common among strangers than it is when `λ` is not tiny (two files that
/// are copies of each other: FEBRL4's `λ` is 2·10⁻⁴, while a birth date's `u` is about
/// 5·10⁻⁵). So after a first fit, `u` is corrected for the matches the fit expects among
/// random pairs, and the fit repeated until the prior settles (relative change under
/// 10⁻⁶, at most 20 rounds); in a county register, where `λ` is around one in a million,
/// the first fit already stands.
pub fn train(
    random: &PatternCounts,
    sessions: &[Session],
    options: &EmOptions,
) -> Result<Trained, TrainError> {
    let defaults = Weights::default();
    let random_pairs = random.total();
    if random_pairs < options.min_random_pairs {
        return Err(TrainError::TooFewRandomPairs {
            pairs: random_pairs,
            min: options.min_random_pairs,
        });
    }
    let raw_u = estimate_u(random, &defaults);
    let mut u = raw_u;
    let mut fitted = fit(random, sessions, &u, options)?;
    for _ in 0..UNMIX_ROUNDS {
        let next_u = unmix(&raw_u, random, &fitted);
        let next = fit(random, sessions, &next_u, options)?;
        let settled = ((next.prior - fitted.prior) / fitted.prior).abs() < 1e-6;
        (u, fitted) = (next_u, next);
        if settled {
            break;
        }
    }
    let Fitted {
        m,
        estimated,
        prior,
        sessions: fits,
    } = fitted;
    let mut final_u = table_of(&defaults, |p| p.u);
    for f in 0..FIELDS.len() {
        if estimated[f] {
            final_u[f] = u[f];
        }
    }

    let mut weights = defaults;
    for (f, field) in FIELDS.iter().enumerate() {
        if !estimated[f] {
            continue;
        }
        let level = |l: usize| Probabilities::new(m[f][l], final_u[f][l]);
        *weights.field_mut(*field) = FieldWeights {
            exact: level(0),
            close: level(1),
            disagree: level(2),
        };
        let w = weights.field(*field);
        let (exact, disagree) = (w.weight(Level::Exact), w.weight(Level::Disagree));
        if exact <= disagree {
            return Err(TrainError::Degenerate {
                field: *field,
                exact,
                disagree,
            });
        }
    }
    Ok(Trained {
        weights,
        prior,
        thresholds: Thresholds::from_prior(prior),
        random_pairs,
        sessions: fits,
        estimated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed xorshift64 generator, so every run draws the same pairs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// An index drawn with the given probabilities.
        fn pick(&mut self, probs: &[f64; 3]) -> usize {
            let x = self.unit() * probs.iter().sum::<f64>();
            let mut acc = 0.0;
            for (i, p) in probs.iter().enumerate() {
                acc += p;
                if x < acc {
                    return i;
                }
            }
            2
        }
    }

    /// A model to simulate: `m`, `u`, the share of records missing each field, the prior.
    struct Model {
        m: Table,
        u: Table,
        missing: [f64; 8],
    }

    /// A model with the defaults' levels (sex and household have no close level).
    fn model(
        agree_m: f64,
        agree_u: f64,
        close_share: f64,
        missing: [f64; 8],
        spread: &[f64; 8],
    ) -> Model {
        let used = used_levels(&Weights::default());
        let mut m = [[0.0; 3]; 8];
        let mut u = [[0.0; 3]; 8];
        for f in 0..8 {
            // Vary the fields so that no two are alike.
            let (am, au) = (agree_m * spread[f], agree_u * spread[f]);
            let (cm, cu) = if used[f][1] {
                (close_share * (1.0 - am), close_share * au)
            } else {
                (0.0, 0.0)
            };
            m[f] = [am, cm, 1.0 - am - cm];
            u[f] = [au, cu, 1.0 - au - cu];
        }
        Model { m, u, missing }
    }

    fn draw(rng: &mut Rng, model: &Model, is_match: bool, fixed: &[(usize, usize)]) -> Pattern {
        let mut levels = [Level::Missing; 8];
        for (f, slot) in levels.iter_mut().enumerate() {
            if let Some((_, l)) = fixed.iter().find(|(g, _)| *g == f) {
                *slot = LEVELS[*l];
                continue;
            }
            if rng.unit() < model.missing[f] {
                continue;
            }
            let probs = if is_match { &model.m[f] } else { &model.u[f] };
            *slot = LEVELS[rng.pick(probs)];
        }
        Pattern::from_levels(levels)
    }

    /// 200,000 random pairs, and 100,000 pairs for each blocked field, drawn with the given
    /// prior. (Sessions hold at least a few thousand matches for the parameters below, so
    /// the sampling error of an estimated `m` is under 0.01.)
    fn simulate(
        model: &Model,
        prior: f64,
        blocked_on: &[FieldName],
        seed: u64,
    ) -> (PatternCounts, Vec<Session>) {
        let mut rng = Rng(seed);
        let random: PatternCounts = (0..200_000)
            .map(|_| {
                let is_match = rng.unit() < prior;
                draw(&mut rng, model, is_match, &[])
            })
            .collect();
        let sessions = blocked_on
            .iter()
            .map(|field| {
                let f = field_index(*field);
                // Among pairs agreeing exactly on f, the share of matches by Bayes' rule,
                // for pairs where f is recorded on both sides.
                let (pm, pu) = (model.m[f][0], model.u[f][0]);
                let share = prior * pm / (prior * pm + (1.0 - prior) * pu);
                let pairs: PatternCounts = (0..100_000)
                    .map(|_| {
                        let is_match = rng.unit() < share;
                        draw(&mut rng, model, is_match, &[(f, 0)])
                    })
                    .collect();
                Session {
                    rule: format!("same {}", field.describe()),
                    blocked: vec![Blocked::exact(*field)],
                    pairs,
                    share: (prior * pm + (1.0 - prior) * pu) * (1.0 - model.missing[f]),
                }
            })
            .collect();
        (random, sessions)
    }

    #[test]
    fn patterns_hold_the_levels_of_each_field() {
        let mut levels = [Level::Missing; 8];
        levels[1] = Level::Exact;
        levels[3] = Level::Close;
        levels[7] = Level::Disagree;
        let p = Pattern::from_levels(levels);
        for (f, field) in FIELDS.iter().enumerate() {
            assert_eq!(p.level(*field), levels[f]);
        }
        let a = Person {
            name: "韦阿娜".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1985, 3, 15),
            village: Some("451226100201".into()),
            ..Person::default()
        };
        let mut b = a.clone();
        b.name = "伟阿娜".into();
        let p = Pattern::of(&a, &b);
        assert_eq!(p.level(FieldName::Name), Level::Close);
        assert_eq!(p.level(FieldName::BirthDate), Level::Exact);
        assert_eq!(p.level(FieldName::Phone), Level::Missing);
        let counts: PatternCounts = [p, p, Pattern::of(&a, &a)].into_iter().collect();
        assert_eq!(counts.total(), 3);
        assert_eq!(counts.observed(FieldName::Name), 3);
        assert_eq!(counts.observed(FieldName::Phone), 0);
    }

    #[test]
    fn u_is_the_share_among_random_pairs() {
        let mut levels = [Level::Missing; 8];
        let mut random = PatternCounts::new();
        levels[1] = Level::Exact;
        random.add_n(Pattern::from_levels(levels), 10);
        levels[1] = Level::Disagree;
        random.add_n(Pattern::from_levels(levels), 990);
        let u = estimate_u(&random, &Weights::default());
        let name = field_index(FieldName::Name);
        // 10 exact, none close (half an occurrence), 990 disagree.
        assert!((u[name][0] - 10.0 / 1000.5).abs() < 1e-12);
        assert!((u[name][1] - 0.5 / 1000.5).abs() < 1e-12);
        assert!((u[name][2] - 990.0 / 1000.5).abs() < 1e-12);
        // Never recorded: the default stays.
        let phone = field_index(FieldName::Phone);
        assert_eq!(u[phone][0], Weights::default().phone.exact.u);
        // Sex has no close level.
        assert_eq!(u[field_index(FieldName::Sex)][1], 0.0);
    }

    #[test]
    fn training_recovers_a_known_model() {
        let spread = [0.95, 1.0, 0.9, 1.05, 0.85, 0.97, 0.93, 0.9];
        let model = model(
            0.9,
            0.01,
            0.5,
            [0.3, 0.0, 0.1, 0.05, 0.5, 0.1, 0.6, 0.2],
            &spread,
        );
        let prior = 1e-3;
        let (random, sessions) = simulate(
            &model,
            prior,
            &[FieldName::BirthDate, FieldName::Village],
            7,
        );
        let t = train(&random, &sessions, &EmOptions::default()).unwrap();
        assert!(t.estimated.iter().all(|e| *e), "{:?}", t.estimated);
        for (f, field) in FIELDS.iter().enumerate() {
            let w = t.weights.field(*field);
            for (l, p) in [w.exact, w.close, w.disagree].iter().enumerate() {
                assert!(
                    (p.m - model.m[f][l]).abs() < 0.02,
                    "{field:?} level {l}: m {} vs {}",
                    p.m,
                    model.m[f][l]
                );
                assert!(
                    (p.u - model.u[f][l]).abs() < 0.01,
                    "{field:?} level {l}: u {} vs {}",
                    p.u,
                    model.u[f][l]
                );
            }
        }
        let ratio = t.prior / prior;
        assert!((0.8..1.25).contains(&ratio), "prior {} vs {prior}", t.prior);
        assert_eq!(t.thresholds, Thresholds::from_prior(t.prior));
        assert!(t.sessions.iter().all(|s| s.used));
    }

    #[test]
    fn training_is_deterministic() {
        let model = model(0.9, 0.02, 0.5, [0.1; 8], &[1.0; 8]);
        let (random, sessions) = simulate(&model, 1e-3, &[FieldName::Name], 11);
        let once = train(&random, &sessions, &EmOptions::default()).unwrap();
        let mut reversed = PatternCounts::new();
        let pairs: Vec<(Pattern, u64)> = random.iter().collect();
        for (p, n) in pairs.into_iter().rev() {
            reversed.add_n(p, n);
        }
        let again = train(&reversed, &sessions, &EmOptions::default()).unwrap();
        assert_eq!(once, again);
    }

    #[test]
    fn too_little_data_is_refused_with_a_reason() {
        let model = model(0.9, 0.02, 0.5, [0.1; 8], &[1.0; 8]);
        let (random, mut sessions) = simulate(&model, 1e-3, &[FieldName::Name], 3);
        let few: PatternCounts = random.iter().take(3).map(|(p, _)| p).collect();
        assert!(matches!(
            train(&few, &sessions, &EmOptions::default()),
            Err(TrainError::TooFewRandomPairs { pairs: 3, .. })
        ));
        let err = train(&random, &[], &EmOptions::default()).unwrap_err();
        assert!(matches!(err, TrainError::TooFewPairs { .. }), "{err}");
        // A session of non-matches only: nothing to learn m from.
        sessions[0].pairs = (0..5_000)
            .map(|i| {
                let mut levels = [Level::Disagree; 8];
                levels[1] = Level::Exact;
                levels[(i % 7) + usize::from(i % 7 >= 1)] = Level::Close;
                Pattern::from_levels(levels)
            })
            .collect();
        let err = train(&random, &sessions, &EmOptions::default()).unwrap_err();
        assert!(err.to_string().contains("same name"), "{err}");
    }

    #[test]
    fn degenerate_weights_are_refused() {
        // Addresses agree more often among non-matches than among matches.
        let mut model = model(0.9, 0.02, 0.5, [0.0; 8], &[1.0; 8]);
        let a = field_index(FieldName::Address);
        model.m[a] = [0.1, 0.1, 0.8];
        model.u[a] = [0.3, 0.3, 0.4];
        let (random, sessions) =
            simulate(&model, 1e-3, &[FieldName::BirthDate, FieldName::Name], 5);
        let err = train(&random, &sessions, &EmOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                TrainError::Degenerate {
                    field: FieldName::Address,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("address"), "{err}");
    }

    #[test]
    fn rarely_recorded_fields_keep_their_defaults() {
        // Nobody has a phone or a household.
        let mut missing = [0.05; 8];
        missing[field_index(FieldName::Phone)] = 1.0;
        missing[field_index(FieldName::Household)] = 1.0;
        let model = model(0.9, 0.02, 0.5, missing, &[1.0; 8]);
        let (random, sessions) = simulate(&model, 1e-3, &[FieldName::BirthDate], 9);
        let t = train(&random, &sessions, &EmOptions::default()).unwrap();
        assert!(!t.estimated(FieldName::Phone));
        assert!(!t.estimated(FieldName::Household));
        assert!(t.estimated(FieldName::Name));
        assert_eq!(t.weights.phone, Weights::default().phone);
        // Blocked on in the only session: no estimate of m, so the default stays.
        assert!(!t.estimated(FieldName::BirthDate));
        assert_eq!(t.weights.birth_date, Weights::default().birth_date);
    }

    #[test]
    fn em_stops_at_the_iteration_limit_and_says_so() {
        let model = model(0.9, 0.02, 0.5, [0.1; 8], &[1.0; 8]);
        let (random, sessions) = simulate(&model, 1e-3, &[FieldName::Name], 13);
        let u = estimate_u(&random, &Weights::default());
        let start = table_of(&Weights::default(), |p| p.m);
        let options = EmOptions {
            max_iterations: 2,
            ..EmOptions::default()
        };
        let fit = em(
            &sessions[0].pairs,
            &start,
            &u,
            0.1,
            &[FieldName::Name],
            &options,
        );
        assert_eq!((fit.iterations, fit.converged), (2, false));
        // The held field's row is untouched.
        assert_eq!(fit.m[1], start[1]);
        let err = train(&random, &sessions, &options).unwrap_err();
        assert!(matches!(err, TrainError::NotConverged { .. }), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]

        /// Whatever the model (fields that separate matches from non-matches), training
        /// recovers its m, u and prior from simulated pairs.
        #[test]
        fn training_recovers_m_u_and_the_prior(
            agree_m in 0.75f64..0.97,
            agree_u in 0.001f64..0.05,
            close_share in 0.2f64..0.8,
            prior_log10 in -4.0f64..-2.0,
            seed in 1u64..u64::MAX,
        ) {
            let mut model = model(agree_m, agree_u, close_share, [0.1; 8],
                &[1.0, 0.98, 1.0, 1.02, 0.97, 1.0, 0.99, 1.01]);
            // The fields blocked on are rare agreements among strangers, as a birth date is.
            for field in [FieldName::BirthDate, FieldName::Village] {
                let u = &mut model.u[field_index(field)];
                u[0] /= 10.0;
                u[2] = 1.0 - u[0] - u[1];
            }
            let prior = 10f64.powf(prior_log10);
            let (random, sessions) =
                simulate(&model, prior, &[FieldName::BirthDate, FieldName::Village], seed);
            let t = train(&random, &sessions, &EmOptions::default()).unwrap();
            for (f, field) in FIELDS.iter().enumerate() {
                let w = t.weights.field(*field);
                for (l, p) in [w.exact, w.close, w.disagree].iter().enumerate() {
                    proptest::prop_assert!((p.m - model.m[f][l]).abs() < 0.03,
                        "{:?} {}: m {} vs {}", field, l, p.m, model.m[f][l]);
                    // With the matches among random pairs taken out.
                    proptest::prop_assert!((p.u - model.u[f][l]).abs() < 0.005,
                        "{:?} {}: u {} vs {}", field, l, p.u, model.u[f][l]);
                }
            }
            let ratio = t.prior / prior;
            proptest::prop_assert!((0.75..1.33).contains(&ratio), "prior {} vs {}", t.prior, prior);
        }
    }
}
