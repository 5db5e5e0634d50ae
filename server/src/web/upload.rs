//! Uploads (`POST /api/v1/tenants/{tenant}/loads`): a township's files, a folder or a zip,
//! staged in a private folder under names the server makes from the client's, then loaded
//! exactly as `gridassess ingest FOLDER` loads.
//!
//! No client-supplied path reaches the file system: a name is split into plain components
//! (no `..`, no root, no drive, nothing hidden in control characters) and joined under the
//! staging folder, which the server created and nothing else writes to. The bytes of a part
//! and of a zip's entries are counted as they are written, not taken from any header.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;

use super::Refused;

/// The most files one upload may hold, zips' entries included.
pub(crate) const MOST_FILES: usize = 500;

/// What one upload may send and unpack to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UploadLimits {
    /// Bytes sent, all parts together.
    pub(crate) bytes: u64,
    /// Bytes its zips unpack to: four times what may be sent (county CSVs compress five to
    /// ten times; a zip bomb, a thousand).
    pub(crate) unzipped: u64,
}

impl UploadLimits {
    pub(crate) fn of(bytes: u64) -> UploadLimits {
        UploadLimits {
            bytes,
            unzipped: bytes.saturating_mul(4),
        }
    }
}
/// Folder depth and name length a file may have.
const DEEPEST: usize = 8;
const LONGEST_NAME: usize = 255;

/// An upload on disk, ready to load.
#[derive(Debug)]
pub(crate) struct Staged {
    /// Removed, with everything in it, when the upload is dropped.
    pub(crate) folder: tempfile::TempDir,
    /// What `ingest::load` reads: the staging folder's top-level files and folders, in name
    /// order (a folder is read as `gridassess ingest FOLDER` reads one: its sub-folders are
    /// reported, not read).
    pub(crate) paths: Vec<PathBuf>,
    /// Tables the upload replaces whole (`replace` fields).
    pub(crate) replace: Vec<String>,
    /// The `allow_mass_removal` field.
    pub(crate) allow_mass_removal: bool,
}

/// Where a file named `name` by the client goes under `root`; an error for a name that is
/// not a plain relative path.
pub(crate) fn staged_path(root: &Path, name: &str) -> Result<PathBuf, String> {
    let mut path = root.to_path_buf();
    let mut depth = 0;
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => continue,
            ".." => {
                return Err(format!(
                    "{name}: a file name may not climb out of its folder (..)"
                ));
            }
            _ => {}
        }
        if part.chars().any(char::is_control) {
            return Err(format!(
                "{}: control characters in a file name",
                name.escape_debug()
            ));
        }
        if part.len() > LONGEST_NAME {
            return Err(format!("{name}: a name longer than {LONGEST_NAME} bytes"));
        }
        // `C:` first in a Windows path: a drive, not a folder.
        if depth == 0 && part.len() == 2 && part.ends_with(':') {
            continue;
        }
        depth += 1;
        if depth > DEEPEST {
            return Err(format!("{name}: more than {DEEPEST} folders deep"));
        }
        path.push(part);
    }
    if depth == 0 {
        return Err(format!("'{name}' is not a file name"));
    }
    Ok(path)
}

fn too_large(what: impl Into<String>) -> Refused {
    Refused::new(StatusCode::PAYLOAD_TOO_LARGE, what)
}

fn bad(what: impl Into<String>) -> Refused {
    Refused::new(StatusCode::BAD_REQUEST, what)
}

fn internal(e: impl std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "an upload could not be staged");
    Refused::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the upload could not be stored on the server (logged)",
    )
}

fn multipart_error(e: MultipartError) -> Refused {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large("the upload is larger than the server takes (serve --max-upload-mb)")
    } else {
        Refused::new(
            status,
            format!("the upload cannot be read: {}", e.body_text()),
        )
    }
}

/// Reads the multipart body into a fresh staging folder: `files` parts (file names kept,
/// folders too), `replace` parts (table names) and `allow_mass_removal` (`true`). Zips are
/// unpacked into a folder named after them.
pub(crate) async fn stage(
    mut multipart: Multipart,
    limits: UploadLimits,
) -> Result<Staged, Refused> {
    let folder = tempfile::Builder::new()
        .prefix("gridassess-upload-")
        .tempdir()
        .map_err(internal)?;
    let root = folder.path().to_path_buf();
    let (mut files, mut bytes) = (0usize, 0u64);
    let (mut replace, mut allow_mass_removal) = (Vec::new(), false);
    let mut zips = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name() {
            // A form's file input left empty (the folder picker beside the file picker) is
            // sent as a part with an empty file name and no bytes: nothing was chosen.
            Some("files") if field.file_name() == Some("") => continue,
            Some("files") => {
                files += 1;
                if files > MOST_FILES {
                    return Err(too_large(format!(
                        "more than {MOST_FILES} files in one upload"
                    )));
                }
                let name = field
                    .file_name()
                    .ok_or_else(|| bad("a `files` part without a file name"))?
                    .to_string();
                let path = staged_path(&root, &name).map_err(bad)?;
                bytes = write_part(field, &path, &name, bytes, limits.bytes).await?;
                if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
                {
                    zips.push(path);
                }
            }
            Some("replace") => {
                let table = short_text(field, "replace").await?;
                replace.extend(
                    table
                        .split([',', ' '])
                        .filter(|t| !t.is_empty())
                        .map(str::to_string),
                );
            }
            Some("allow_mass_removal") => {
                allow_mass_removal = matches!(
                    short_text(field, "allow_mass_removal").await?.as_str(),
                    "true" | "on" | "1"
                );
            }
            other => {
                return Err(bad(format!(
                    "unknown field {:?}: the upload takes files, replace and allow_mass_removal",
                    other.unwrap_or("")
                )));
            }
        }
    }
    if files == 0 {
        return Err(bad("no files in the upload (multipart field `files`)"));
    }
    let unzip_root = root.clone();
    tokio::task::spawn_blocking(move || unzip_all(&unzip_root, &zips, files, limits.unzipped))
        .await
        .map_err(internal)??;
    let mut paths: Vec<PathBuf> = entries(&root)
        .map_err(internal)?
        .into_iter()
        .map(|p| innermost(p).map_err(internal))
        .collect::<Result<_, _>>()?;
    paths.sort();
    Ok(Staged {
        folder,
        paths,
        replace,
        allow_mass_removal,
    })
}

/// The entries of a folder.
fn entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect()
}

/// A folder that holds nothing but one folder is read as that folder: a zip of a township's
/// folder unpacks to `zip/township/…`, and its files are in the inner one. (A folder's own
/// sub-folders are otherwise not read, as `gridassess ingest FOLDER` does not read them, so
/// a `backup/` copy beside the files is reported rather than loaded twice.)
fn innermost(mut path: PathBuf) -> std::io::Result<PathBuf> {
    while path.is_dir() {
        match entries(&path)?.as_slice() {
            [only] if only.is_dir() => path = only.clone(),
            _ => break,
        }
    }
    Ok(path)
}

/// Writes one part to `path` (a new file: two parts of one name are refused), counting its
/// bytes into `sent`; the new count.
async fn write_part(
    mut field: Field<'_>,
    path: &Path,
    name: &str,
    mut sent: u64,
    most: u64,
) -> Result<u64, Refused> {
    use tokio::io::AsyncWriteExt;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotADirectory
                || e.kind() == std::io::ErrorKind::AlreadyExists
            {
                bad(format!("{name}: a file and a folder of the same name"))
            } else {
                internal(e)
            }
        })?;
    }
    let mut out = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::IsADirectory => {
                bad(format!("two files named {name} in one upload"))
            }
            _ => internal(e),
        })?;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        sent += chunk.len() as u64;
        if sent > most {
            return Err(too_large(format!(
                "the upload is larger than {} MB",
                most / 1024 / 1024
            )));
        }
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    Ok(sent)
}

/// A small text field (a table name, a yes/no), at most 1 KB.
pub(crate) async fn short_text(mut field: Field<'_>, what: &str) -> Result<String, Refused> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        text.extend_from_slice(&chunk);
        if text.len() > 1024 {
            return Err(bad(format!("the {what} field is longer than 1 KB")));
        }
    }
    String::from_utf8(text).map_err(|_| bad(format!("the {what} field is not UTF-8 text")))
}

/// Unpacks each zip into a folder named after it, then removes the zip. `files` counts the
/// upload's files so far; entries count too.
fn unzip_all(root: &Path, zips: &[PathBuf], mut files: usize, most: u64) -> Result<(), Refused> {
    let mut unpacked = 0u64;
    for zip in zips {
        let shown = zip.strip_prefix(root).unwrap_or(zip).display().to_string();
        let into = zip.with_extension("");
        if into.exists() {
            return Err(bad(format!(
                "{shown}: a folder of the same name is in the upload"
            )));
        }
        let file = std::fs::File::open(zip).map_err(internal)?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| bad(format!("{shown}: not a readable zip file ({e})")))?;
        for i in 0..archive.len() {
            let mut entry = archive
                .by_index(i)
                .map_err(|e| bad(format!("{shown}: entry {} cannot be read ({e})", i + 1)))?;
            let name = entry_name(entry.name_raw());
            // Folders count too: a zip of a million empty folders is a million entries.
            files += 1;
            if files > MOST_FILES {
                return Err(too_large(format!(
                    "more than {MOST_FILES} files in one upload (zips' entries included)"
                )));
            }
            if entry.is_dir() || name.ends_with('/') {
                continue;
            }
            if entry.is_symlink() {
                return Err(bad(format!("{shown}: {name} is a link, not a file")));
            }
            let path = staged_path(&into, &name).map_err(|e| bad(format!("{shown}: {e}")))?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|_| {
                    bad(format!(
                        "{shown}: {name}: a file and a folder of the same name"
                    ))
                })?;
            }
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|_| bad(format!("{shown}: two entries named {name}")))?;
            // The sizes in a zip's headers are the zip's word; the bytes are counted as they
            // come out (a zip bomb stops at the budget, not at its claim).
            let budget = most - unpacked;
            let mut limited = (&mut entry).take(budget.saturating_add(1));
            let copied = std::io::copy(&mut limited, &mut out)
                .map_err(|e| bad(format!("{shown}: {name} cannot be unpacked ({e})")))?;
            if copied > budget {
                return Err(too_large(format!(
                    "the upload's zips unpack to more than {} MB",
                    most / 1024 / 1024
                )));
            }
            unpacked += copied;
            out.flush().map_err(internal)?;
        }
        drop(archive);
        std::fs::remove_file(zip).map_err(internal)?;
    }
    Ok(())
}

/// A zip entry's name: UTF-8 when it is, else GBK (Windows in Chinese writes entry names in
/// the ANSI code page and does not set the zip's UTF-8 flag).
fn entry_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(name) => name.to_string(),
        Err(_) => encoding_rs::GB18030.decode(raw).0.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_name_stays_under_the_staging_folder() {
        let root = Path::new("/staging");
        let ok = |n: &str| staged_path(root, n).unwrap();
        assert_eq!(ok("members.csv"), root.join("members.csv"));
        assert_eq!(ok("镇A/党员.csv"), root.join("镇A").join("党员.csv"));
        assert_eq!(ok("镇A\\党员.csv"), root.join("镇A").join("党员.csv"));
        assert_eq!(ok("/etc/passwd"), root.join("etc").join("passwd"));
        assert_eq!(
            ok("C:\\Users\\wang\\members.csv"),
            root.join("Users/wang/members.csv")
        );
        assert_eq!(ok("./a//b.csv"), root.join("a").join("b.csv"));
        for hostile in [
            "../x.csv",
            "a/../../x.csv",
            "..\\x.csv",
            "",
            "/",
            ".",
            "a\0b.csv",
            "a\nb.csv",
        ] {
            assert!(
                staged_path(root, hostile).is_err(),
                "{hostile:?} was accepted"
            );
        }
        assert!(staged_path(root, &format!("{}x.csv", "a/".repeat(8))).is_err());
        assert!(staged_path(root, &format!("{}x.csv", "a/".repeat(7))).is_ok());
        assert!(staged_path(root, &"x".repeat(256)).is_err());
    }

    #[test]
    fn zip_entry_names_in_gbk_are_read_as_chinese() {
        let (gbk, _, _) = encoding_rs::GBK.encode("党员.csv");
        assert_eq!(entry_name(&gbk), "党员.csv");
        assert_eq!(entry_name("党员.csv".as_bytes()), "党员.csv");
    }
}
