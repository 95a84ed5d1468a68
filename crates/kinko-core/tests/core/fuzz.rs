//! Every fuzz seed and saved failing input goes through its parser.

use super::*;

fn files_in(dir: &Path) -> Vec<PathBuf> {
    // A folder that is not there has no files; any other error is the
    // test's own failure, said as such (not an empty list).
    let entries = match std::fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Fuzzing (issue 7): every fuzz target is an entry of
/// `kinko_core::parsers`, each has seeds, and every seed and every saved
/// failing input, cut short at every length up to 300 bytes and with
/// bytes flipped along its length, goes through its parser without a
/// panic — a crash found once stays fixed.
#[test]
fn every_fuzz_seed_and_regression_parses() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut declared: Vec<String> = files_in(&fuzz.join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    declared.sort();
    let mut entries: Vec<String> = kinko_core::parsers::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    entries.sort();
    assert_eq!(
        declared, entries,
        "fuzz/fuzz_targets and parsers::TARGETS differ"
    );
    for (name, parse) in kinko_core::parsers::TARGETS {
        let seeds = files_in(&fuzz.join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} has no seeds");
        let inputs = seeds
            .iter()
            .chain(files_in(&fuzz.join("regressions").join(name)).iter())
            .map(|p| std::fs::read(p).unwrap())
            .collect::<Vec<_>>();
        for input in inputs {
            parse(&input);
            for cut in 0..input.len().min(300) {
                parse(&input[..cut]);
            }
            let step = (input.len() / 64).max(1);
            for at in (0..input.len()).step_by(step) {
                let mut changed = input.clone();
                changed[at] ^= 0x5a;
                parse(&changed);
            }
        }
    }
}
