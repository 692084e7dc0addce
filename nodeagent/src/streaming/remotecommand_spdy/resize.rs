//! The resize stream of a SPDY terminal session: the client writes one
//! JSON object per size change (`{"Width":w,"Height":h}`, Go's json.Encoder,
//! so newline-separated), and SPDY data frames may cut them anywhere.
//! Pure.

use crate::runtime::pty::WindowSize;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Size {
    width: u16,
    height: u16,
}

/// Bytes of the resize stream in, window sizes out.
#[derive(Debug, Default)]
pub struct ResizeDecoder {
    pending: Vec<u8>,
}

/// A client that never completes an object does not grow the buffer
/// without bound.
const MAX_PENDING: usize = 64 * 1024;

impl ResizeDecoder {
    /// The sizes completed by `data`. Malformed objects and zero sizes are
    /// skipped, as the kubelet's decoder stops at them without failing the
    /// session.
    pub fn push(&mut self, data: &[u8]) -> Vec<WindowSize> {
        self.pending.extend_from_slice(data);
        let mut sizes = Vec::new();
        let mut consumed = 0;
        let mut values = serde_json::Deserializer::from_slice(&self.pending).into_iter::<Size>();
        loop {
            match values.next() {
                Some(Ok(s)) => {
                    consumed = values.byte_offset();
                    if s.width > 0 && s.height > 0 {
                        sizes.push(WindowSize {
                            cols: s.width,
                            rows: s.height,
                        });
                    }
                }
                // An object cut short: wait for the rest.
                Some(Err(e)) if e.is_eof() => break,
                // Not a size: drop everything seen so far.
                Some(Err(_)) => {
                    consumed = self.pending.len();
                    break;
                }
                None => {
                    consumed = self.pending.len();
                    break;
                }
            }
        }
        self.pending.drain(..consumed);
        if self.pending.len() > MAX_PENDING {
            self.pending.clear();
        }
        sizes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_split_across_frames() {
        let mut d = ResizeDecoder::default();
        assert_eq!(d.push(b"{\"Width\":80,"), vec![]);
        assert_eq!(
            d.push(b"\"Height\":24}\n{\"Width\":100,\"Height\":30}\n{\"Wi"),
            vec![
                WindowSize { cols: 80, rows: 24 },
                WindowSize {
                    cols: 100,
                    rows: 30
                }
            ]
        );
        assert_eq!(
            d.push(b"dth\":1,\"Height\":2}\n"),
            vec![WindowSize { cols: 1, rows: 2 }]
        );
    }

    #[test]
    fn garbage_and_zero_sizes_are_skipped() {
        let mut d = ResizeDecoder::default();
        assert_eq!(d.push(b"{\"Width\":0,\"Height\":24}\n"), vec![]);
        assert_eq!(d.push(b"not json\n"), vec![]);
        assert_eq!(
            d.push(b"{\"Width\":5,\"Height\":6}"),
            vec![WindowSize { cols: 5, rows: 6 }]
        );
    }
}
