//! Which SPDY streams an exec or attach session is made of. The client
//! opens one stream per standard stream it wants, each named by its
//! `streamType` header (error, stdin, stdout, stderr, and resize with a
//! terminal); the session starts once all the expected ones are there, as
//! the kubelet waits for them. Pure: the caller owns the streams.

use crate::streaming::remotecommand::Options;
use crate::streaming::spdy::Headers;

/// The header naming a stream's role.
const STREAM_TYPE: &str = "streamType";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

impl StreamType {
    pub fn of(headers: &Headers) -> Result<StreamType, String> {
        match headers.get(STREAM_TYPE) {
            Some("error") => Ok(StreamType::Error),
            Some("stdin") => Ok(StreamType::Stdin),
            Some("stdout") => Ok(StreamType::Stdout),
            Some("stderr") => Ok(StreamType::Stderr),
            Some("resize") => Ok(StreamType::Resize),
            other => Err(format!("unexpected stream type: {:?}", other.unwrap_or(""))),
        }
    }

    /// Whether a session with these options waits for this stream.
    fn expected(self, opts: &Options) -> bool {
        match self {
            StreamType::Error => true,
            StreamType::Stdin => opts.stdin,
            StreamType::Stdout => opts.stdout,
            StreamType::Stderr => opts.stderr,
            StreamType::Resize => opts.tty,
        }
    }
}

/// The streams received so far.
#[derive(Debug)]
pub struct StreamSet<T> {
    pub error: Option<T>,
    pub stdin: Option<T>,
    pub stdout: Option<T>,
    pub stderr: Option<T>,
    pub resize: Option<T>,
}

impl<T> Default for StreamSet<T> {
    fn default() -> Self {
        StreamSet {
            error: None,
            stdin: None,
            stdout: None,
            stderr: None,
            resize: None,
        }
    }
}

impl<T> StreamSet<T> {
    fn slot(&mut self, t: StreamType) -> &mut Option<T> {
        match t {
            StreamType::Error => &mut self.error,
            StreamType::Stdin => &mut self.stdin,
            StreamType::Stdout => &mut self.stdout,
            StreamType::Stderr => &mut self.stderr,
            StreamType::Resize => &mut self.resize,
        }
    }

    /// Takes a stream; a second one of a type is refused (given back).
    pub fn add(&mut self, t: StreamType, stream: T) -> Result<(), T> {
        let slot = self.slot(t);
        if slot.is_some() {
            return Err(stream);
        }
        *slot = Some(stream);
        Ok(())
    }

    /// Every stream these options ask for has arrived.
    pub fn complete(&self, opts: &Options) -> bool {
        let have = |s: &Option<T>| s.is_some();
        [
            (StreamType::Error, have(&self.error)),
            (StreamType::Stdin, have(&self.stdin)),
            (StreamType::Stdout, have(&self.stdout)),
            (StreamType::Stderr, have(&self.stderr)),
            (StreamType::Resize, have(&self.resize)),
        ]
        .iter()
        .all(|(t, present)| *present || !t.expected(opts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(t: &str) -> Headers {
        Headers::default().with("streamtype", t)
    }

    #[test]
    fn stream_types_from_headers() {
        assert_eq!(StreamType::of(&typed("stdout")), Ok(StreamType::Stdout));
        assert_eq!(StreamType::of(&typed("resize")), Ok(StreamType::Resize));
        assert!(StreamType::of(&typed("data")).is_err());
        assert!(StreamType::of(&Headers::default()).is_err());
    }

    #[test]
    fn complete_once_every_asked_stream_is_there() {
        let opts = Options {
            stdin: true,
            stdout: true,
            tty: true,
            ..Default::default()
        };
        let mut set = StreamSet::default();
        for (t, id) in [
            (StreamType::Error, 1),
            (StreamType::Stdin, 3),
            (StreamType::Stdout, 5),
        ] {
            assert!(!set.complete(&opts));
            set.add(t, id).unwrap();
        }
        assert!(!set.complete(&opts), "a terminal needs the resize stream");
        assert_eq!(set.add(StreamType::Stdout, 7), Err(7));
        set.add(StreamType::Resize, 9).unwrap();
        assert!(set.complete(&opts));

        let output_only = Options {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let mut set = StreamSet::default();
        set.add(StreamType::Error, 1).unwrap();
        set.add(StreamType::Stdout, 3).unwrap();
        assert!(!set.complete(&output_only));
        set.add(StreamType::Stderr, 5).unwrap();
        assert!(set.complete(&output_only));
    }
}
