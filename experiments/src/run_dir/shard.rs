//! Work shared between processes, on one machine or many, through one run
//! directory on a shared file system.
//!
//! - A [`Shard`] `K/N` owns the units at positions `K-1, K-1+N, ...` of a
//!   sweep's fixed unit order: each process of `--shard 1/N .. N/N` drives
//!   its share.
//! - A unit is trained only under a [`Claim`]: `claims/<unit>.claim`,
//!   created with `create_new` (atomic on local and NFSv3+ file systems),
//!   holding its owner (host, process id) and refreshed every
//!   [`HEARTBEAT`] by a thread while the owner holds it. A claim whose
//!   owner is gone (same host, no such process) or silent for
//!   [`STALE_AFTER`] (another host) is taken over: renamed away atomically
//!   (one taker wins), then claimed afresh. A unit that another process
//!   needs (a seed's pretrained stack, a grid before its seeds) is trained
//!   by its claimant; the others wait for its commit ([`ensure`]).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::RunDir;
use super::error::{RunError, io_error};

/// How often a held claim's file is refreshed.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// A claim not refreshed for this long, by a process on another host, is
/// taken to be abandoned (10 missed heartbeats).
pub const STALE_AFTER: Duration = Duration::from_secs(300);
/// How often a process waiting for another's unit looks again.
const POLL: Duration = Duration::from_millis(500);

/// `--shard K/N`: the K-th of N processes (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// A `--shard` value that is not `K/N` with `1 <= K <= N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard `{0}`: expected K/N, e.g. 2/8 (the 2nd of 8 processes)")]
    Malformed(String),
    #[error("--shard {index}/0: the number of shards N must be at least 1")]
    ZeroCount { index: usize },
    #[error("--shard {index}/{count}: K must be in 1..={count} (shards are numbered from 1)")]
    IndexOutOfRange { index: usize, count: usize },
}

impl std::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, ShardError> {
        let malformed = || ShardError::Malformed(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(malformed)?;
        let index: usize = k.trim().parse().map_err(|_| malformed())?;
        let count: usize = n.trim().parse().map_err(|_| malformed())?;
        if count == 0 {
            return Err(ShardError::ZeroCount { index });
        }
        if index == 0 || index > count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The one process of an unsharded run.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Whether the unit at `position` of the sweep's order is this shard's.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

/// What a shard says once its share is committed in `dir`.
pub fn shard_done_line(shard: Shard, dir: &Path) -> String {
    format!(
        "shard {shard}: its units are committed in {}; once every shard is done, \
         build the report with --report",
        dir.display()
    )
}

/// Who holds a claim: written into its file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
}

impl Owner {
    /// This process.
    pub fn me() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown-host".into());
        Self {
            host,
            pid: std::process::id(),
        }
    }

    /// What a process waiting for unit `name`, which this owner holds, says.
    pub fn waiting_line(&self, name: &str) -> String {
        format!(
            "{name}: held by process {} on {}; waiting for its commit",
            self.pid, self.host
        )
    }

    /// Whether this owner is certainly gone: a process of this host that
    /// no longer exists. (Another host's process is judged by its heartbeat.)
    fn is_gone(&self, me: &Owner) -> bool {
        self.host == me.host
            && Path::new("/proc/self").exists()
            && !Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// A claim this process holds; its file is refreshed until it is dropped,
/// then removed.
pub struct Claim {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.heartbeat.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What [`try_claim`] found.
pub enum Claimed {
    /// This process holds the unit now.
    Mine(Claim),
    /// Another live process holds it.
    Held(Owner),
}

/// The claim file of unit `name` in `run`.
pub fn claim_path(run: &RunDir, name: &str) -> PathBuf {
    run.file(&format!("claims/{name}.claim"))
}

/// Claims unit `name` of `run` for this process, taking over a claim whose
/// owner is gone or silent (see the module docs).
pub fn try_claim(run: &RunDir, name: &str) -> Result<Claimed, RunError> {
    let path = claim_path(run, name);
    let dir = path.parent().expect("under claims/").to_path_buf();
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let me = Owner::me();
    loop {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                let text = serde_json::to_string(&me).expect("owners serialise");
                file.write_all(text.as_bytes()).map_err(io_error(&path))?;
                file.sync_all().map_err(io_error(&path))?;
                return Ok(Claimed::Mine(hold(path)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(RunError::Io { path, source }),
        }
        // Held: by whom, and is it alive? A file still being written reads
        // as no owner: it is young, so it is not stale.
        let owner: Option<Owner> = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        let abandoned = match (&owner, age) {
            (Some(owner), _) if *owner == me => true, // a claim this process left (cannot happen twice)
            (Some(owner), _) if owner.is_gone(&me) => true,
            (_, Some(age)) => age > STALE_AFTER,
            (_, None) => false, // gone between the two reads: try again
        };
        if !abandoned {
            match owner {
                Some(owner) => return Ok(Claimed::Held(owner)),
                None => {
                    if std::fs::metadata(&path).is_ok() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    continue;
                }
            }
        }
        // Take it over: one renamer wins; the others find it gone and retry.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let away = dir.join(format!(".taken-over-{}-{nanos}", me.pid));
        if std::fs::rename(&path, &away).is_ok() {
            let _ = std::fs::remove_file(&away);
        }
    }
}

/// Starts the heartbeat of the claim file at `path`.
fn hold(path: PathBuf) -> Claim {
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, file) = (stop.clone(), path.clone());
    let heartbeat = std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            std::thread::park_timeout(HEARTBEAT);
            if flag.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(f) = OpenOptions::new().write(true).open(&file) {
                let _ = f.set_modified(SystemTime::now());
            }
        }
    });
    Claim {
        path,
        stop,
        heartbeat: Some(heartbeat),
    }
}

/// Unit `name` of `run`, committed: `load` finds it if it is; otherwise
/// this process claims and `train`s it (which commits it), or waits while
/// another live process does. `None` if `train` was interrupted or
/// `should_stop` while waiting.
///
/// While waiting it polls only the claim file: `load` (which may read and
/// hash a unit's files) runs once before and once each time this process
/// gets the claim, which is when the other owner has committed and let go,
/// or died.
pub fn ensure<T, E: From<RunError>>(
    run: &RunDir,
    name: &str,
    mut load: impl FnMut() -> Result<Option<T>, E>,
    train: impl FnOnce() -> Result<Option<T>, E>,
    should_stop: impl Fn() -> bool,
    mut waiting: impl FnMut(&Owner),
) -> Result<Option<T>, E> {
    let mut train = Some(train);
    let mut told = false;
    if let Some(done) = load()? {
        return Ok(Some(done));
    }
    loop {
        match try_claim(run, name)? {
            Claimed::Mine(claim) => {
                // Committed by another owner, or between the first look
                // and the claim?
                if let Some(done) = load()? {
                    return Ok(Some(done));
                }
                let trained = train.take().expect("trained once: this branch returns")();
                drop(claim);
                return trained;
            }
            Claimed::Held(owner) => {
                if !told {
                    waiting(&owner);
                    told = true;
                }
                if should_stop() {
                    return Ok(None);
                }
                std::thread::sleep(POLL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_as_k_of_n_and_refuse_the_rest_by_rule() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!("1/1".parse::<Shard>(), Ok(Shard::WHOLE));
        assert_eq!(
            "0/3".parse::<Shard>(),
            Err(ShardError::IndexOutOfRange { index: 0, count: 3 })
        );
        assert_eq!(
            "4/3".parse::<Shard>(),
            Err(ShardError::IndexOutOfRange { index: 4, count: 3 })
        );
        assert_eq!(
            "1/0".parse::<Shard>(),
            Err(ShardError::ZeroCount { index: 1 })
        );
        for bad in ["3", "a/3", "1/b", "", "1/3/5", "-1/3"] {
            assert_eq!(
                bad.parse::<Shard>(),
                Err(ShardError::Malformed(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_shards_of_n_own_every_position_exactly_once() {
        for count in 1..6 {
            for position in 0..40 {
                let owners = (1..=count)
                    .filter(|&index| Shard { index, count }.owns(position))
                    .count();
                assert_eq!(owners, 1, "position {position} of {count} shards");
            }
        }
    }

    #[test]
    fn a_held_claim_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let Claimed::Mine(claim) = try_claim(&run, "unit-a").unwrap() else {
            panic!("a free unit is claimed");
        };
        // Another live owner (this test's parent process stands in for a
        // second process on this host) holds it: refused.
        let parent = std::os::unix::process::parent_id();
        let other = Owner {
            pid: parent,
            ..Owner::me()
        };
        drop(claim);
        assert!(!claim_path(&run, "unit-a").exists(), "released on drop");
        std::fs::write(
            claim_path(&run, "unit-a"),
            serde_json::to_string(&other).unwrap(),
        )
        .unwrap();
        match try_claim(&run, "unit-a").unwrap() {
            Claimed::Held(owner) => assert_eq!(owner, other),
            Claimed::Mine(_) => panic!("a live process's claim was taken"),
        }
    }

    #[test]
    fn a_dead_or_silent_owners_claim_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        std::fs::create_dir_all(run.file("claims")).unwrap();
        // A process of this host that has exited.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let gone = Owner {
            pid: dead,
            ..Owner::me()
        };
        std::fs::write(
            claim_path(&run, "unit-b"),
            serde_json::to_string(&gone).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            try_claim(&run, "unit-b").unwrap(),
            Claimed::Mine(_)
        ));
        // Another host's claim: kept while fresh, taken once silent.
        let far = Owner {
            host: "another-host".into(),
            pid: 1,
        };
        let path = claim_path(&run, "unit-c");
        std::fs::write(&path, serde_json::to_string(&far).unwrap()).unwrap();
        assert!(matches!(
            try_claim(&run, "unit-c").unwrap(),
            Claimed::Held(_)
        ));
        let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(matches!(
            try_claim(&run, "unit-c").unwrap(),
            Claimed::Mine(_)
        ));
    }

    #[test]
    fn ensure_loads_a_committed_unit_and_trains_a_missing_one_once() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let trained = std::cell::Cell::new(0);
        let committed = std::cell::Cell::new(false);
        for _ in 0..2 {
            let value: Option<u32> = ensure::<_, RunError>(
                &run,
                "unit-d",
                || Ok(committed.get().then_some(7)),
                || {
                    trained.set(trained.get() + 1);
                    committed.set(true);
                    Ok(Some(7))
                },
                || false,
                |_| {},
            )
            .unwrap();
            assert_eq!(value, Some(7));
        }
        assert_eq!(trained.get(), 1);
        assert!(!claim_path(&run, "unit-d").exists());
    }

    /// A process waiting on another's unit does not load it at every poll:
    /// once before, and once when the owner has committed and let go.
    #[test]
    fn a_waiting_process_loads_only_when_the_claim_is_released() {
        use std::sync::atomic::AtomicUsize;
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        std::fs::create_dir_all(run.file("claims")).unwrap();
        let other = Owner {
            pid: std::os::unix::process::parent_id(),
            ..Owner::me()
        };
        let path = claim_path(&run, "unit-e");
        std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        let loads = Arc::new(AtomicUsize::new(0));
        let committed = Arc::new(AtomicBool::new(false));
        let (l, c) = (loads.clone(), committed.clone());
        let waiter_run = run.clone();
        let waiter = std::thread::spawn(move || {
            ensure::<u32, RunError>(
                &waiter_run,
                "unit-e",
                || {
                    l.fetch_add(1, Ordering::SeqCst);
                    Ok(c.load(Ordering::SeqCst).then_some(7))
                },
                || panic!("the other owner trains it"),
                || false,
                |_| {},
            )
        });
        // Several polls while the other owner holds the claim.
        std::thread::sleep(POLL * 4);
        committed.store(true, Ordering::SeqCst);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(waiter.join().unwrap().unwrap(), Some(7));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert!(!path.exists(), "the waiter let go of its claim");
    }
}
