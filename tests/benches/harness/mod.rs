//! The measuring harness every benchmark shares: argument parsing, corpus loading, interleaved timing
//! with medians, a printed table and the same figures as JSON.
//!
//! Method (DESIGN.md): single thread unless a benchmark measures scaling; each page on its own; a
//! warm-up round; then rounds in which every contender runs once in turn, so that a noisy machine
//! slows all of them alike; the median round is reported.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Instant;

use trueno_zram::{PAGE_SIZE, Page};

/// Command-line arguments common to all benchmarks.
pub struct Args {
    /// Corpus files (`--corpus FILE`, repeatable; default `../shared/corpus/memdump.bin` when present).
    pub corpora: Vec<PathBuf>,
    /// Where to write the JSON report (`--json FILE`).
    pub json: Option<PathBuf>,
    /// Timed rounds per contender (`--rounds N`, default 11).
    pub rounds: usize,
    /// Arguments this harness does not know, for the benchmark itself.
    pub rest: Vec<String>,
}

/// Parses the arguments after `--` (cargo's own `--bench` flag is ignored).
pub fn args() -> Args {
    let mut args = Args {
        corpora: Vec::new(),
        json: None,
        rounds: 11,
        rest: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {}
            "--corpus" => args
                .corpora
                .push(PathBuf::from(value_of(&mut it, "--corpus"))),
            "--json" => args.json = Some(PathBuf::from(value_of(&mut it, "--json"))),
            "--rounds" => {
                let n = value_of(&mut it, "--rounds");
                // A mistyped count must not quietly become the default: the figures would then
                // claim a method they did not follow.
                args.rounds = n
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| panic!("--rounds {n}: expected a count of 1 or more"));
            }
            _ => args.rest.push(a),
        }
    }
    if args.corpora.is_empty()
        && let Some(dir) = trueno_zram_tests::shared_dir()
    {
        args.corpora.push(dir.join("corpus/memdump.bin"));
    }
    args
}

/// The value after `flag`; a flag left without one is a mistake to report, not to skip.
fn value_of(it: &mut impl Iterator<Item = String>, flag: &str) -> String {
    it.next().unwrap_or_else(|| panic!("{flag} needs a value"))
}

/// A named set of pages.
pub struct Corpus {
    /// File name, for the table.
    pub name: String,
    /// Its whole pages.
    pub pages: Vec<Page>,
}

impl Corpus {
    /// Bytes of uncompressed data.
    pub fn bytes(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }
}

/// Loads every corpus named in `args`, or pages from files on this machine when none is.
pub fn corpora(args: &Args) -> Vec<Corpus> {
    if args.corpora.is_empty() {
        eprintln!("no --corpus and no ../shared/corpus: using pages of local files");
        return vec![Corpus {
            name: "local-files".into(),
            pages: trueno_zram_tests::local_pages(4096),
        }];
    }
    args.corpora
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Corpus {
                name,
                pages: trueno_zram_tests::pages_of(&bytes),
            }
        })
        .collect()
}

/// One contender: a name and a closure that processes the whole workload once.
pub struct Contender<'a> {
    /// Name in the table.
    pub name: String,
    run: Box<dyn FnMut() + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender that runs `run` once per round.
    pub fn new(name: impl Into<String>, run: impl FnMut() + 'a) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Runs every contender once to warm up, then `rounds` times interleaved; returns each one's median
/// throughput in MB/s (10^6 bytes of uncompressed data per second).
pub fn measure(bytes: usize, rounds: usize, contenders: &mut [Contender<'_>]) -> Vec<f64> {
    for c in contenders.iter_mut() {
        (c.run)();
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); contenders.len()];
    // `BENCH_CPU_TIME=1` times each round by the thread's CPU time instead of the wall clock: on a
    // machine shared with other jobs, the time the thread waits for a core then does not count.
    let cpu_time = std::env::var_os("BENCH_CPU_TIME").is_some_and(|v| v != "0");
    for _ in 0..rounds {
        for (c, t) in contenders.iter_mut().zip(times.iter_mut()) {
            if cpu_time {
                let start = thread_cpu_seconds();
                (c.run)();
                t.push(thread_cpu_seconds() - start);
            } else {
                let start = Instant::now();
                (c.run)();
                t.push(start.elapsed().as_secs_f64());
            }
        }
    }
    times
        .into_iter()
        .map(|t| bytes as f64 / median(t) / 1e6)
        .collect()
}

/// CPU time this thread has run, in seconds.
pub fn thread_cpu_seconds() -> f64 {
    cpu_clock_seconds(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time every thread of this process has run (exited ones included), in seconds.
pub fn process_cpu_seconds() -> f64 {
    cpu_clock_seconds(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// A CPU-time clock's reading. Not `/proc/.../schedstat`: its run time reads 0 on kernels built
/// without scheduler statistics, this machine's among them.
fn cpu_clock_seconds(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both CPU-time clocks exist on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The median of some samples.
pub fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

/// A table of rows with named numeric columns, printed and written as JSON.
pub struct Report {
    name: String,
    columns: Vec<String>,
    rows: Vec<(String, Vec<f64>)>,
    notes: Vec<String>,
}

impl Report {
    /// An empty report for benchmark `name` with these column names.
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Self {
            name: name.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a row; `values` follow the column order (NaN prints as `-`).
    pub fn row(&mut self, label: impl Into<String>, values: Vec<f64>) {
        self.rows.push((label.into(), values));
    }

    /// Adds a line printed under the table and stored in the JSON.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Prints the table and writes the JSON file named by `--json`.
    pub fn finish(&self, args: &Args) {
        let label_width = self
            .rows
            .iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(0)
            .max(8);
        print!("\n{:label_width$}", self.name);
        for c in &self.columns {
            print!("  {c:>12}");
        }
        println!();
        for (label, values) in &self.rows {
            print!("{label:label_width$}");
            for v in values {
                if v.is_nan() {
                    print!("  {:>12}", "-");
                } else if v.abs() >= 100.0 {
                    print!("  {v:>12.0}");
                } else {
                    print!("  {v:>12.3}");
                }
            }
            println!();
        }
        for n in &self.notes {
            println!("{n}");
        }
        if let Some(path) = &args.json {
            let rows: Vec<serde_json::Value> = self
                .rows
                .iter()
                .map(|(label, values)| {
                    let mut obj = serde_json::Map::new();
                    obj.insert("name".into(), label.clone().into());
                    for (c, v) in self.columns.iter().zip(values) {
                        obj.insert(
                            c.clone(),
                            if v.is_nan() {
                                serde_json::Value::Null
                            } else {
                                (*v).into()
                            },
                        );
                    }
                    obj.into()
                })
                .collect();
            let doc =
                serde_json::json!({ "benchmark": self.name, "rows": rows, "notes": self.notes });
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default()) {
                Ok(()) => println!("wrote {}", path.display()),
                Err(e) => eprintln!("cannot write {}: {e}", path.display()),
            }
        }
    }
}
