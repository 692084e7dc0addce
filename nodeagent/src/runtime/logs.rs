//! Container logs in the CRI format (`<RFC3339Nano> <stream> <P|F> <text>`),
//! one file per container instance (`<restartCount>.log`), rotated at
//! 10 MiB keeping the newest few rotated files; and reading them back for
//! `/containerLogs` (tail, since, timestamps, limitBytes).

use k8s_openapi::jiff::Timestamp;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

pub const MAX_SIZE: u64 = 10 * 1024 * 1024;
pub const MAX_FILES: usize = 5;
/// Lines longer than this are split into partial (P) entries.
pub const MAX_LINE: usize = 16 * 1024;

pub struct LogWriter {
    path: PathBuf,
    file: Option<std::fs::File>,
    size: u64,
    max_size: u64,
}

impl LogWriter {
    pub fn open(path: PathBuf) -> std::io::Result<Self> {
        Self::with_max_size(path, MAX_SIZE)
    }

    pub fn with_max_size(path: PathBuf, max_size: u64) -> std::io::Result<Self> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogWriter {
            path,
            file: Some(file),
            size,
            max_size,
        })
    }

    pub fn write_entry(&mut self, stream: &str, text: &[u8], partial: bool) {
        let mut line = Vec::with_capacity(text.len() + 48);
        line.extend_from_slice(Timestamp::now().to_string().as_bytes());
        line.push(b' ');
        line.extend_from_slice(stream.as_bytes());
        line.extend_from_slice(if partial { b" P " } else { b" F " });
        line.extend_from_slice(text);
        line.push(b'\n');
        if let Some(f) = self.file.as_mut() {
            if f.write_all(&line).is_ok() {
                self.size += line.len() as u64;
            }
        }
        if self.size >= self.max_size {
            self.rotate();
        }
    }

    fn rotate(&mut self) {
        self.file = None;
        let stamp = Timestamp::now().strftime("%Y%m%d-%H%M%S%.f").to_string();
        let rotated = PathBuf::from(format!("{}.{stamp}", self.path.display()));
        let _ = std::fs::rename(&self.path, &rotated);
        // Keep the newest MAX_FILES-1 rotated files of this instance.
        let mut olds = rotated_files(&self.path);
        while olds.len() > MAX_FILES - 1 {
            let _ = std::fs::remove_file(olds.remove(0));
        }
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ok();
        self.size = 0;
    }
}

/// Rotated files of a log (`N.log.<stamp>`), oldest first.
pub fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(&prefix))
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The first read of a stream. Many containers never write a byte (pause,
/// quiet servers); they should not each hold a full line buffer per stream.
const FIRST_READ: usize = 256;

/// Copies one stream of a process into the log until EOF.
pub async fn capture<R: AsyncRead + Unpin>(
    mut reader: R,
    stream: &'static str,
    writer: Arc<Mutex<LogWriter>>,
) {
    let mut first = [0u8; FIRST_READ];
    let n = match reader.read(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    let mut reader = BufReader::with_capacity(MAX_LINE, (&first[..n]).chain(reader));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let complete = buf.last() == Some(&b'\n');
        if complete {
            buf.pop();
        }
        // Cut at the size limit: a partial entry; cut by EOF: a full one.
        let partial = !complete && buf.len() >= MAX_LINE;
        if let Ok(mut w) = writer.lock() {
            w.write_entry(stream, &buf, partial);
        }
    }
}

/// One parsed log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub time: String,
    pub stream: String,
    pub partial: bool,
    pub text: String,
}

pub fn parse_line(line: &str) -> Option<Entry> {
    let mut it = line.splitn(4, ' ');
    let time = it.next()?.to_string();
    let stream = it.next()?.to_string();
    let tag = it.next()?;
    let text = it.next().unwrap_or("").to_string();
    Some(Entry {
        time,
        stream,
        partial: tag == "P",
        text,
    })
}

/// Options of a log request, as the kubelet takes them.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub previous: bool,
    pub tail_lines: Option<usize>,
    pub since: Option<Timestamp>,
    pub timestamps: bool,
    pub limit_bytes: Option<usize>,
}

/// Renders an entry for output.
pub fn render(e: &Entry, timestamps: bool) -> String {
    let mut s = String::new();
    if timestamps {
        s.push_str(&e.time);
        s.push(' ');
    }
    s.push_str(&e.text);
    if !e.partial {
        s.push('\n');
    }
    s
}

pub fn entry_is_since(e: &Entry, since: Option<Timestamp>) -> bool {
    match since {
        None => true,
        Some(s) => e.time.parse::<Timestamp>().map(|t| t >= s).unwrap_or(true),
    }
}

/// The whole current content of an instance's log (rotated files first),
/// filtered by since and tail.
pub fn read_all(path: &Path, opts: &LogOptions) -> String {
    let mut files = rotated_files(path);
    files.push(path.to_path_buf());
    let mut entries: Vec<Entry> = Vec::new();
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            entries.extend(
                text.lines()
                    .filter_map(parse_line)
                    .filter(|e| entry_is_since(e, opts.since)),
            );
        }
    }
    if let Some(n) = opts.tail_lines {
        // Count full lines (a partial entry continues into the next).
        let mut full = 0;
        let mut start = entries.len();
        while start > 0 {
            if !entries[start - 1].partial {
                if full == n {
                    break;
                }
                full += 1;
            }
            start -= 1;
        }
        entries.drain(..start);
    }
    entries.iter().map(|e| render(e, opts.timestamps)).collect()
}

/// The instance's output after its first `skip` bytes as a plain log read
/// renders it (no timestamps), entry by entry with the entry's stream
/// (`stdout`/`stderr`): what a client that read the log that far has not
/// seen yet.
pub fn output_after(path: &Path, skip: usize) -> Vec<(String, String)> {
    let mut files = rotated_files(path);
    files.push(path.to_path_buf());
    let mut out = Vec::new();
    let mut to_skip = skip;
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for e in text.lines().filter_map(parse_line) {
            let mut r = render(&e, false);
            if to_skip >= r.len() {
                to_skip -= r.len();
                continue;
            }
            if to_skip > 0 {
                let mut cut = to_skip;
                while !r.is_char_boundary(cut) {
                    cut += 1;
                }
                r.drain(..cut);
                to_skip = 0;
            }
            out.push((e.stream, r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_after_what_a_reader_saw() {
        let (dir, path) = temp_log();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            &path,
            "2026-01-01T00:00:00.1Z stdout F early\n\
             2026-01-01T00:00:00.2Z stderr F warn\n\
             2026-01-01T00:00:00.3Z stdout P par\n\
             2026-01-01T00:00:00.4Z stdout F tial\n",
        )
        .unwrap();
        let all = output_after(&path, 0);
        assert_eq!(all.len(), 4);
        assert_eq!(
            output_after(&path, "early\n".len()),
            vec![
                ("stderr".to_string(), "warn\n".to_string()),
                ("stdout".to_string(), "par".to_string()),
                ("stdout".to_string(), "tial\n".to_string()),
            ]
        );
        assert_eq!(
            output_after(&path, "early\nwa".len()),
            vec![
                ("stderr".to_string(), "rn\n".to_string()),
                ("stdout".to_string(), "par".to_string()),
                ("stdout".to_string(), "tial\n".to_string()),
            ]
        );
        assert!(output_after(&path, 100).is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A fresh directory and the path of a log file in it.
    fn temp_log() -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("mkube-logs-{}", rand::random::<u32>()));
        let path = dir.join("0.log");
        (dir, path)
    }

    /// What `capture` writes for a stream carrying `input`.
    async fn captured(stream: &'static str, input: &[u8]) -> String {
        let (dir, path) = temp_log();
        let w = Arc::new(Mutex::new(LogWriter::open(path.clone()).unwrap()));
        let (mut tx, rx) = tokio::io::duplex(64);
        let task = tokio::spawn(capture(rx, stream, w));
        tokio::io::AsyncWriteExt::write_all(&mut tx, input)
            .await
            .unwrap();
        drop(tx);
        task.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(dir);
        text
    }

    #[test]
    fn writes_cri_lines_and_reads_them_back() {
        let (dir, path) = temp_log();
        let mut w = LogWriter::open(path.clone()).unwrap();
        w.write_entry("stdout", b"hello", false);
        w.write_entry("stderr", b"par", true);
        w.write_entry("stderr", b"tial", false);
        w.write_entry("stdout", b"last", false);
        let text = std::fs::read_to_string(&path).unwrap();
        let first = parse_line(text.lines().next().unwrap()).unwrap();
        assert_eq!(first.stream, "stdout");
        assert!(first.time.ends_with('Z') && first.time.contains('T'));
        let all = read_all(&path, &LogOptions::default());
        assert_eq!(all, "hello\npartial\nlast\n");
        let tail = read_all(
            &path,
            &LogOptions {
                tail_lines: Some(2),
                ..Default::default()
            },
        );
        assert_eq!(tail, "partial\nlast\n");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Lines are whole across the small first read, an over-long line
    /// becomes partial entries of MAX_LINE, and a last line without a
    /// newline is a full entry.
    #[tokio::test]
    async fn capture_keeps_lines_whole_across_reads() {
        let first = "a".repeat(FIRST_READ * 3);
        let long = "b".repeat(MAX_LINE + 10);
        let input = format!("{first}\nshort\n{long}\nend");
        let text = captured("stdout", input.as_bytes()).await;
        let entries: Vec<Entry> = text.lines().filter_map(parse_line).collect();
        let got: Vec<(bool, usize)> = entries.iter().map(|e| (e.partial, e.text.len())).collect();
        assert_eq!(
            got,
            [
                (false, first.len()),
                (false, 5),
                (true, MAX_LINE),
                (false, 10),
                (false, 3)
            ]
        );
        assert_eq!(entries[0].text, first);
    }

    /// A stream that closes without a byte leaves no entry.
    #[tokio::test]
    async fn capture_of_a_silent_stream_writes_nothing() {
        assert_eq!(captured("stderr", b"").await, "");
    }

    #[test]
    fn rotates_at_the_size_limit() {
        let (dir, path) = temp_log();
        let mut w = LogWriter::with_max_size(path.clone(), 200).unwrap();
        for i in 0..40 {
            w.write_entry("stdout", format!("line {i}").as_bytes(), false);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let rotated = rotated_files(&path);
        assert_eq!(rotated.len(), MAX_FILES - 1);
        assert!(std::fs::metadata(&path).unwrap().len() < 200);
        let all = read_all(&path, &LogOptions::default());
        assert!(all.ends_with("line 39\n"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
