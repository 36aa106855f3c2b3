//! Wall time spent on a run over every process that worked on it.
//!
//! A run that takes hours is stopped and resumed across sessions, so the
//! time of its last process is not the time the result cost. [`RunClock`]
//! keeps the total in the run's `wall.json`, rewritten every
//! [`RunClock::EVERY`] while the process runs and when the clock is
//! dropped; a resumed process adds its time to the total it finds. Work
//! redone after a crash (the step that was not committed) counts again,
//! as it was spent again; a crash loses at most one rewrite's time.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::RunDir;
use super::error::{RunError, io_error};
use super::identity::read_json;

/// The file that holds a run's wall time.
pub const CLOCK_FILE: &str = "wall.json";

/// What `wall.json` holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WallTime {
    /// Seconds spent on the run by all its processes.
    pub wall_seconds: f64,
    /// Processes that worked on it (1 for a run never resumed).
    pub processes: usize,
}

/// This process's share of a run's wall time, counting until dropped.
#[derive(Debug)]
pub struct RunClock {
    before: WallTime,
    started: Instant,
    /// Tells the rewriting thread to stop.
    stop: Arc<(Mutex<bool>, Condvar)>,
    writer: Option<JoinHandle<()>>,
    run: RunDir,
}

impl RunClock {
    /// How often `wall.json` is rewritten.
    pub const EVERY: Duration = Duration::from_secs(30);

    /// The run's wall time so far, this process included.
    pub fn total(&self) -> WallTime {
        total(self.before, self.started)
    }
}

fn total(before: WallTime, started: Instant) -> WallTime {
    WallTime {
        wall_seconds: before.wall_seconds + started.elapsed().as_secs_f64(),
        processes: before.processes + 1,
    }
}

impl RunDir {
    /// Starts counting this process's time into the run's `wall.json`,
    /// continuing the total a previous process left there.
    ///
    /// # Errors
    /// A `wall.json` that cannot be read or parsed, or written.
    pub fn clock(&self) -> Result<RunClock, RunError> {
        let path: PathBuf = self.file(CLOCK_FILE);
        let before = if path.exists() {
            read_json(&path)?
        } else {
            WallTime {
                wall_seconds: 0.0,
                processes: 0,
            }
        };
        let started = Instant::now();
        self.write_json(CLOCK_FILE, &total(before, started))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let writer = {
            let (stop, run) = (Arc::clone(&stop), self.clone());
            std::thread::Builder::new()
                .name("run-clock".into())
                .spawn(move || {
                    let (flag, wake) = &*stop;
                    let mut stopped = flag.lock().expect("the clock's flag");
                    while !*stopped {
                        stopped = wake
                            .wait_timeout(stopped, RunClock::EVERY)
                            .expect("the clock's flag")
                            .0;
                        // A failed rewrite keeps the previous total; the
                        // final one, on drop, reports nothing either.
                        let _ = run.write_json(CLOCK_FILE, &total(before, started));
                    }
                })
                .map_err(io_error(&path))?
        };
        Ok(RunClock {
            before,
            started,
            stop,
            writer: Some(writer),
            run: self.clone(),
        })
    }
}

impl Drop for RunClock {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().expect("the clock's flag") = true;
        wake.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let _ = self.run.write_json(CLOCK_FILE, &self.total());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_process_adds_its_time_to_the_total_it_finds() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        run.write_json(
            CLOCK_FILE,
            &WallTime {
                wall_seconds: 100.0,
                processes: 2,
            },
        )
        .unwrap();
        let clock = run.clock().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let now = clock.total();
        assert_eq!(now.processes, 3);
        assert!(
            now.wall_seconds >= 100.05 && now.wall_seconds < 110.0,
            "{now:?}"
        );
        drop(clock);
        let written: WallTime = read_json(&run.file(CLOCK_FILE)).unwrap();
        assert_eq!(written.processes, 3);
        assert!(written.wall_seconds >= now.wall_seconds, "{written:?}");
    }

    #[test]
    fn a_fresh_run_starts_from_zero_and_writes_the_file_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let clock = run.clock().unwrap();
        let written: WallTime = read_json(&run.file(CLOCK_FILE)).unwrap();
        assert_eq!(written.processes, 1);
        assert!(written.wall_seconds < 1.0, "{written:?}");
        drop(clock);
    }

    #[test]
    fn a_damaged_clock_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        std::fs::write(run.file(CLOCK_FILE), "{\"wall_seconds\": \"soon\"}").unwrap();
        let error = run.clock().unwrap_err().to_string();
        assert!(error.contains(CLOCK_FILE), "{error}");
    }
}
