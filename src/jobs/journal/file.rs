//! The journal on disk: read once by [`JournalFile::open`], replaced whole and atomically by
//! every [`JournalFile::commit`]. All of the journal's I/O is here.
//!
//! A commit writes `<name>.tmp`, syncs it, renames it over the journal and syncs the
//! directory: after a power loss the journal is the old state or the new one, never a mix.
//! A file that cannot be used is renamed aside, never deleted nor overwritten. One process
//! owns a journal; nothing here locks it against a second one.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{decode, encode, DecodeError, JournalState, MAX_JOURNAL_BYTES};
use crate::error::{jobs_result, Error, Result};

/// Suffix of a file set aside because it held no usable journal.
const CORRUPT: &str = "corrupt";
/// Suffix of a file set aside because it could not be read at open.
const UNREADABLE: &str = "unreadable";

/// A journal at a path, as [`JournalFile::open`] found it.
#[derive(Debug)]
pub struct JournalFile {
    path: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
    /// Why no commit can work at all (a path that names no file).
    path_error: Option<Error>,
    /// Set while the journal's path holds something `open` could not use and could not move:
    /// the next commit renames it aside with this suffix first, so it is never overwritten.
    in_the_way: Option<&'static str>,
}

/// What [`JournalFile::open`] returns: the store, the state to start from, and what went
/// wrong if the state starts empty because of the file.
#[derive(Debug)]
pub struct Opened {
    /// The store, for the commits that follow.
    pub file: JournalFile,
    /// The journal's state: empty when the file is missing or was not usable.
    pub state: JournalState,
    /// Why the file was not used, when it was there but not usable.
    pub problem: Option<JournalProblem>,
}

/// Why an existing journal file was not used; in every case the state starts empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalProblem {
    /// The file held no journal this library can use and was renamed to `moved_to`.
    SetAside {
        /// What is wrong with its content.
        error: DecodeError,
        /// Where it is now (`<name>.corrupt-<unix ms>`).
        moved_to: PathBuf,
    },
    /// The file held no usable journal and could not be renamed either: it stays where it
    /// is, and the next commit tries the rename again before writing (and fails if it fails).
    NotSetAside {
        /// What is wrong with its content.
        error: DecodeError,
        /// Why the rename failed (`JOBS_RESULT_IO`).
        rename_error: Error,
    },
    /// The file could not be read (permissions, not a regular file, an I/O error). It is left
    /// alone; the next commit first renames what is there to `<name>.unreadable-<unix ms>`.
    Unreadable {
        /// Which path and why (`JOBS_RESULT_IO`, or `INVALID_ARGUMENT` for a path that names
        /// no file).
        error: Error,
    },
}

impl fmt::Display for JournalProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalProblem::SetAside { error, moved_to } => write!(
                f,
                "{error}; the file was set aside as {} and the journal starts empty",
                moved_to.display()
            ),
            JournalProblem::NotSetAside {
                error,
                rename_error,
            } => write!(
                f,
                "{error}; the journal starts empty, and the file could not be set aside ({}): \
                 no commit replaces it until it can be",
                rename_error.message
            ),
            JournalProblem::Unreadable { error } => write!(
                f,
                "{}; the journal starts empty, and the next commit first renames what is \
                 there to <name>.{UNREADABLE}-<unix ms>",
                error.message
            ),
        }
    }
}

/// A `JOBS_RESULT_IO` error naming what was done to which path and the OS's reason.
fn io_error(action: &str, path: &Path, e: io::Error) -> Error {
    Error::new(
        jobs_result::Io,
        format!("cannot {action} {}: {e}", path.display()),
    )
}

/// `path` with `suffix` appended to its last component.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// What is at the journal's path.
enum Contents {
    Missing,
    Bytes(Vec<u8>),
    TooBig(u64),
}

/// Reads the journal without trusting what is there: opened with `O_NONBLOCK` so a FIFO
/// cannot block, refused unless a regular file, and never more than [`MAX_JOURNAL_BYTES`] + 1
/// bytes read, so a huge or endless file cannot exhaust memory.
fn read_journal(path: &Path) -> Result<Contents> {
    let file = match File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Contents::Missing),
        Err(e) => return Err(io_error("open the journal", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| io_error("stat the journal", path, e))?;
    if !meta.is_file() {
        let t = meta.file_type();
        let what = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return Err(Error::new(
            jobs_result::Io,
            format!(
                "cannot read the journal {}: it is {what}, not a regular file",
                path.display()
            ),
        ));
    }
    if meta.len() > MAX_JOURNAL_BYTES as u64 {
        return Ok(Contents::TooBig(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.take(MAX_JOURNAL_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("read the journal", path, e))?;
    // It may have grown since the stat.
    if bytes.len() > MAX_JOURNAL_BYTES {
        return Ok(Contents::TooBig(bytes.len() as u64));
    }
    Ok(Contents::Bytes(bytes))
}

/// Renames `path` to `<path>.<suffix>-<unix ms>` (with `-<n>` added should that exist, so an
/// earlier one is never replaced) and returns the new path. Not synced: if the rename is lost
/// in a power cut, the next open finds the file again and sets it aside again.
fn set_aside(path: &Path, suffix: &str) -> Result<PathBuf> {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let first = with_suffix(path, &format!(".{suffix}-{ms}"));
    let mut target = first.clone();
    let mut n = 1;
    while fs::symlink_metadata(&target).is_ok() && n < 1000 {
        target = with_suffix(&first, &format!("-{n}"));
        n += 1;
    }
    fs::rename(path, &target).map_err(|e| {
        Error::new(
            jobs_result::Io,
            format!(
                "cannot set aside {} as {}: {e}",
                path.display(),
                target.display()
            ),
        )
    })?;
    Ok(target)
}

impl JournalFile {
    /// Opens the journal at `path` and reads its state. Never fails and never panics: a
    /// missing file is an empty state; a file that does not decode (truncated, garbage, wrong
    /// version, too big) is renamed to `<name>.corrupt-<unix ms>` and the state starts empty;
    /// a file that cannot be read at all is left in place and the state starts empty. The last
    /// two come with a [`JournalProblem`] saying what and where. A `<name>.tmp` left by a
    /// commit cut short is removed (it never is the journal).
    pub fn open(path: &Path) -> Opened {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let path_error = path.file_name().is_none().then(|| {
            Error::new(
                jobs_result::InvalidArgument,
                format!("the journal path {} names no file", path.display()),
            )
        });
        let mut file = JournalFile {
            path: path.to_path_buf(),
            tmp: with_suffix(path, ".tmp"),
            dir,
            path_error: path_error.clone(),
            in_the_way: None,
        };
        if let Some(error) = path_error {
            return Opened {
                file,
                state: JournalState::default(),
                problem: Some(JournalProblem::Unreadable { error }),
            };
        }
        let _ = fs::remove_file(&file.tmp);
        let undecodable =
            |file: &mut JournalFile, error: DecodeError| match set_aside(&file.path, CORRUPT) {
                Ok(moved_to) => JournalProblem::SetAside { error, moved_to },
                Err(rename_error) => {
                    file.in_the_way = Some(CORRUPT);
                    JournalProblem::NotSetAside {
                        error,
                        rename_error,
                    }
                }
            };
        let (state, problem) = match read_journal(&file.path) {
            Ok(Contents::Missing) => (JournalState::default(), None),
            Ok(Contents::TooBig(len)) => (
                JournalState::default(),
                Some(undecodable(&mut file, DecodeError::TooBig { len })),
            ),
            Ok(Contents::Bytes(bytes)) => match decode(&bytes) {
                Ok(state) => (state, None),
                Err(e) => (JournalState::default(), Some(undecodable(&mut file, e))),
            },
            Err(error) => {
                file.in_the_way = Some(UNREADABLE);
                (
                    JournalState::default(),
                    Some(JournalProblem::Unreadable { error }),
                )
            }
        };
        Opened {
            file,
            state,
            problem,
        }
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the journal with `state`, atomically: writes `<name>.tmp`, syncs it, renames it
    /// over the journal and syncs the directory. Until the rename the old journal is intact;
    /// on a failure before it the temporary file is removed. A file that `open` could not use
    /// is first renamed aside (see [`JournalProblem`]), never overwritten.
    ///
    /// # Errors
    /// The code of [`JournalState::check`] for a state that breaks an invariant (nothing is
    /// written); `JOBS_RESULT_IO` naming the path and the OS error when a step fails, a full
    /// disk (ENOSPC) or a file-size limit (EFBIG) included. A failed directory sync comes
    /// after the rename: the new journal is in place but may not survive a power loss.
    pub fn commit(&mut self, state: &JournalState) -> Result<()> {
        if let Some(e) = &self.path_error {
            return Err(e.clone());
        }
        state.check().map_err(|e| {
            Error::new(
                e.code,
                format!("not committed to {}: {}", self.path.display(), e.message),
            )
        })?;
        self.clear_the_way()?;
        let bytes = encode(state);
        debug_assert!(bytes.len() <= MAX_JOURNAL_BYTES);
        if let Err(e) = self.write_tmp(&bytes) {
            let _ = fs::remove_file(&self.tmp);
            return Err(e);
        }
        if let Err(e) = fs::rename(&self.tmp, &self.path) {
            let _ = fs::remove_file(&self.tmp);
            return Err(Error::new(
                jobs_result::Io,
                format!(
                    "cannot rename {} over the journal {}: {e}",
                    self.tmp.display(),
                    self.path.display()
                ),
            ));
        }
        // The rename is only durable once the directory entry is.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| {
                Error::new(
                    jobs_result::Io,
                    format!(
                        "the journal {} is replaced, but its directory {} cannot be synced \
                         ({e}): the new journal may not survive a power loss",
                        self.path.display(),
                        self.dir.display()
                    ),
                )
            })
    }

    /// Writes and syncs the temporary file (owner-only: a checkpoint may be private).
    fn write_tmp(&self, bytes: &[u8]) -> Result<()> {
        let mut f = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.tmp)
            .map_err(|e| io_error("create", &self.tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| io_error("write", &self.tmp, e))?;
        f.sync_all().map_err(|e| io_error("sync", &self.tmp, e))
    }

    /// Renames aside what `open` could not use, if it is still there.
    fn clear_the_way(&mut self) -> Result<()> {
        let Some(suffix) = self.in_the_way else {
            return Ok(());
        };
        match fs::symlink_metadata(&self.path) {
            Ok(_) => {
                set_aside(&self.path, suffix).map_err(|e| {
                    Error::new(
                        e.code,
                        format!(
                            "{}: the file open could not use is not replaced until it is set \
                             aside",
                            e.message
                        ),
                    )
                })?;
            }
            // Nothing there to keep, or nothing can be written there either: the write says.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(io_error("look at", &self.path, e)),
        }
        self.in_the_way = None;
        Ok(())
    }
}
