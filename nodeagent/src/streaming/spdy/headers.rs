//! SPDY/3 header blocks: the name/value list (32-bit big-endian counts and
//! lengths, names lower-case, several values of one name joined by NUL) and
//! its zlib compression. Each direction of a session keeps one zlib context
//! for its whole life, primed with the SPDY/3 dictionary, and every block
//! ends with a sync flush so the peer can decode it on its own.

use super::dictionary::dictionary;
use super::SpdyError;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// An uncompressed header block larger than this is refused: header blocks
/// of port-forward and exec streams are a few dozen bytes.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// Name/value pairs in wire order; a name may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of `name` (names are compared case-insensitively,
    /// as SPDY sends them lower-case and Go's http.Header canonicalises).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// The uncompressed block: values of a repeated name are joined by NUL
    /// under one name, as the specification requires.
    pub fn encode(&self) -> Vec<u8> {
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (n, v) in &self.0 {
            match grouped.iter_mut().find(|(g, _)| g == n) {
                Some((_, vs)) => vs.push(v),
                None => grouped.push((n, vec![v])),
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(grouped.len() as u32).to_be_bytes());
        for (n, vs) in grouped {
            let v = vs.join("\0");
            out.extend_from_slice(&(n.len() as u32).to_be_bytes());
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        out
    }

    /// Parses an uncompressed block.
    pub fn decode(mut b: &[u8]) -> Result<Headers, SpdyError> {
        let count = take_u32(&mut b)?;
        let mut pairs = Vec::new();
        for _ in 0..count {
            let name = take_string(&mut b)?;
            let value = take_string(&mut b)?;
            for v in value.split('\0') {
                pairs.push((name.to_ascii_lowercase(), v.to_string()));
            }
        }
        Ok(Headers(pairs))
    }
}

fn take_u32(b: &mut &[u8]) -> Result<u32, SpdyError> {
    let (head, rest) = b
        .split_first_chunk::<4>()
        .ok_or(SpdyError::Protocol("truncated header block"))?;
    *b = rest;
    Ok(u32::from_be_bytes(*head))
}

fn take_string(b: &mut &[u8]) -> Result<String, SpdyError> {
    let len = take_u32(b)? as usize;
    if len > b.len() {
        return Err(SpdyError::Protocol("truncated header block"));
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    String::from_utf8(s.to_vec()).map_err(|_| SpdyError::Protocol("header is not UTF-8"))
}

/// One direction's compressor.
pub struct HeaderCompressor(Compress);

impl HeaderCompressor {
    pub fn new() -> Result<Self, SpdyError> {
        let mut z = Compress::new(Compression::default(), true);
        z.set_dictionary(dictionary())
            .map_err(|e| SpdyError::Zlib(e.to_string()))?;
        Ok(HeaderCompressor(z))
    }

    /// The compressed form of `headers`, sync-flushed.
    pub fn compress(&mut self, headers: &Headers) -> Result<Vec<u8>, SpdyError> {
        let input = headers.encode();
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                out.reserve(256);
            }
            let before = self.0.total_in();
            self.0
                .compress_vec(&input[pos..], &mut out, FlushCompress::Sync)
                .map_err(|e| SpdyError::Zlib(e.to_string()))?;
            pos += (self.0.total_in() - before) as usize;
            if pos == input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// One direction's decompressor.
pub struct HeaderDecompressor(Decompress);

impl HeaderDecompressor {
    pub fn new() -> Self {
        HeaderDecompressor(Decompress::new(true))
    }

    /// Inflates one compressed block and parses it.
    pub fn decompress(&mut self, input: &[u8]) -> Result<Headers, SpdyError> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= MAX_HEADER_BLOCK {
                    return Err(SpdyError::Protocol("header block too large"));
                }
                out.reserve(out.capacity());
            }
            let before = self.0.total_in();
            let status = match self
                .0
                .decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync)
            {
                Ok(s) => s,
                Err(e) if e.needs_dictionary().is_some() => {
                    self.0
                        .set_dictionary(dictionary())
                        .map_err(|e| SpdyError::Zlib(e.to_string()))?;
                    Status::Ok
                }
                Err(e) => return Err(SpdyError::Zlib(e.to_string())),
            };
            let consumed = (self.0.total_in() - before) as usize;
            pos += consumed;
            let drained = out.len() < out.capacity();
            if pos == input.len() && drained {
                break;
            }
            if status == Status::StreamEnd || (consumed == 0 && drained) {
                return Err(SpdyError::Protocol("header block does not inflate"));
            }
        }
        Headers::decode(&out)
    }
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        Headers::default()
            .with("streamType", "error")
            .with("port", "80")
            .with("requestID", "0")
    }

    #[test]
    fn block_round_trips_and_joins_repeated_names() {
        let h = Headers::default()
            .with("a", "1")
            .with("b", "2")
            .with("a", "3");
        let enc = h.encode();
        // two names: a (1\03) and b
        assert_eq!(&enc[..4], &[0, 0, 0, 2]);
        let back = Headers::decode(&enc).unwrap();
        assert_eq!(
            back.0,
            vec![
                ("a".to_string(), "1".to_string()),
                ("a".to_string(), "3".to_string()),
                ("b".to_string(), "2".to_string()),
            ]
        );
        assert_eq!(back.get("A"), Some("1"));
    }

    #[test]
    fn truncated_block_is_an_error_not_a_panic() {
        let enc = sample().encode();
        for cut in 0..enc.len() {
            assert!(Headers::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn compressed_blocks_decode_in_sequence_with_shared_context() {
        let mut c = HeaderCompressor::new().unwrap();
        let mut d = HeaderDecompressor::new();
        let first = c.compress(&sample()).unwrap();
        // zlib header with FDICT set and the SPDY/3 dictionary id.
        assert_eq!(first[0] & 0x0f, 8);
        assert_ne!(first[1] & 0x20, 0);
        assert_eq!(&first[2..6], &0xe3c6_a7c2u32.to_be_bytes());
        assert_eq!(d.decompress(&first).unwrap(), sample().decode_roundtrip());
        for i in 0..50 {
            let h = Headers::default()
                .with("streamtype", "data")
                .with("port", "8080")
                .with("requestid", &i.to_string());
            let block = c.compress(&h).unwrap();
            assert_eq!(d.decompress(&block).unwrap(), h);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut d = HeaderDecompressor::new();
        assert!(d.decompress(&[0x78, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8]).is_err());
        let mut d = HeaderDecompressor::new();
        assert!(d.decompress(b"not zlib at all").is_err());
    }

    impl Headers {
        /// The block as the peer sees it: names lower-cased.
        fn decode_roundtrip(&self) -> Headers {
            Headers::decode(&self.encode()).unwrap()
        }
    }
}
