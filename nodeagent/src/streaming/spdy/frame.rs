//! SPDY/3.1 frames and their wire codec (draft-mbelshe-httpbis-spdy-00,
//! section 2.2 and 2.6): an 8-byte header (control bit, version 3 and type,
//! or a data frame's stream id; then 8 bits of flags and a 24-bit length)
//! and a payload. The codec owns the session's two zlib contexts, so one
//! codec serves one connection.

use super::headers::{HeaderCompressor, HeaderDecompressor, Headers};
use super::SpdyError;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// FIN flag of SYN_STREAM, SYN_REPLY, HEADERS and DATA frames.
pub const FLAG_FIN: u8 = 0x01;
/// UNIDIRECTIONAL flag of SYN_STREAM.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;

/// RST_STREAM status codes used here.
pub const RST_PROTOCOL_ERROR: u32 = 1;
pub const RST_REFUSED_STREAM: u32 = 3;
pub const RST_CANCEL: u32 = 5;

/// The largest payload one frame can carry (24-bit length).
pub const MAX_FRAME_PAYLOAD: usize = 0xff_ffff;

const VERSION: u16 = 3;
const HEADER_LEN: usize = 8;
const STREAM_ID_MASK: u32 = 0x7fff_ffff;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: u32,
        associated_to: u32,
        priority: u8,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream_id: u32,
        status: u32,
    },
    /// (flags, id, value) entries.
    Settings {
        flags: u8,
        entries: Vec<(u8, u32, u32)>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: u32,
        status: u32,
    },
    Headers {
        stream_id: u32,
        flags: u8,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: u32,
        delta: u32,
    },
    Data {
        stream_id: u32,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type this codec does not know (e.g. the
    /// obsolete NOOP or CREDENTIAL); the specification says to ignore it.
    Unknown {
        kind: u16,
    },
}

/// Encoder/decoder of one SPDY/3.1 connection.
pub struct SpdyCodec {
    deflate: HeaderCompressor,
    inflate: HeaderDecompressor,
}

impl SpdyCodec {
    pub fn new() -> Result<Self, SpdyError> {
        Ok(SpdyCodec {
            deflate: HeaderCompressor::new()?,
            inflate: HeaderDecompressor::new(),
        })
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, SpdyError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(SpdyError::Protocol("control frame too short"))
}

impl SpdyCodec {
    fn decode_control(&mut self, kind: u16, flags: u8, p: Bytes) -> Result<Frame, SpdyError> {
        let id = |at| be32(&p, at).map(|v| v & STREAM_ID_MASK);
        Ok(match kind {
            SYN_STREAM => {
                if p.len() < 10 {
                    return Err(SpdyError::Protocol("SYN_STREAM too short"));
                }
                Frame::SynStream {
                    stream_id: id(0)?,
                    associated_to: id(4)?,
                    priority: p[8] >> 5,
                    flags,
                    headers: self.inflate.decompress(&p[10..])?,
                }
            }
            SYN_REPLY => Frame::SynReply {
                stream_id: id(0)?,
                flags,
                headers: self.inflate.decompress(p.get(4..).unwrap_or_default())?,
            },
            HEADERS => Frame::Headers {
                stream_id: id(0)?,
                flags,
                headers: self.inflate.decompress(p.get(4..).unwrap_or_default())?,
            },
            RST_STREAM => Frame::RstStream {
                stream_id: id(0)?,
                status: be32(&p, 4)?,
            },
            SETTINGS => {
                let n = be32(&p, 0)? as usize;
                let entries = (0..n)
                    .map(|i| {
                        let at = 4 + i * 8;
                        let head = be32(&p, at)?;
                        Ok(((head >> 24) as u8, head & 0xff_ffff, be32(&p, at + 4)?))
                    })
                    .collect::<Result<_, SpdyError>>()?;
                Frame::Settings { flags, entries }
            }
            PING => Frame::Ping { id: be32(&p, 0)? },
            GOAWAY => Frame::GoAway {
                last_good_stream_id: id(0)?,
                // SPDY/3 added the status; tolerate its absence.
                status: be32(&p, 4).unwrap_or(0),
            },
            WINDOW_UPDATE => Frame::WindowUpdate {
                stream_id: id(0)?,
                delta: id(4)?,
            },
            kind => Frame::Unknown { kind },
        })
    }
}

impl Decoder for SpdyCodec {
    type Item = Frame;
    type Error = SpdyError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, SpdyError> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let word = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        let flags = src[4];
        let len = u32::from_be_bytes([0, src[5], src[6], src[7]]) as usize;
        if src.len() < HEADER_LEN + len {
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let payload = src.split_to(len).freeze();
        if word & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream_id: word & STREAM_ID_MASK,
                flags,
                data: payload,
            }));
        }
        let version = ((word >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(SpdyError::Protocol("unsupported SPDY version"));
        }
        self.decode_control((word & 0xffff) as u16, flags, payload)
            .map(Some)
    }
}

fn put_control(dst: &mut BytesMut, kind: u16, flags: u8, payload: &[u8]) {
    dst.put_u16(0x8000 | VERSION);
    dst.put_u16(kind);
    dst.put_u32(((flags as u32) << 24) | payload.len() as u32);
    dst.put_slice(payload);
}

impl Encoder<Frame> for SpdyCodec {
    type Error = SpdyError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), SpdyError> {
        let mut p = Vec::new();
        let (kind, flags) = match frame {
            Frame::Data {
                stream_id,
                flags,
                data,
            } => {
                if data.len() > MAX_FRAME_PAYLOAD {
                    return Err(SpdyError::Protocol("data frame too large"));
                }
                dst.reserve(HEADER_LEN + data.len());
                dst.put_u32(stream_id & STREAM_ID_MASK);
                dst.put_u32(((flags as u32) << 24) | data.len() as u32);
                dst.put_slice(&data);
                return Ok(());
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                headers,
            } => {
                p.put_u32(stream_id & STREAM_ID_MASK);
                p.put_u32(associated_to & STREAM_ID_MASK);
                p.put_u8(priority << 5);
                p.put_u8(0);
                p.extend(self.deflate.compress(&headers)?);
                (SYN_STREAM, flags)
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            } => {
                p.put_u32(stream_id & STREAM_ID_MASK);
                p.extend(self.deflate.compress(&headers)?);
                (SYN_REPLY, flags)
            }
            Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                p.put_u32(stream_id & STREAM_ID_MASK);
                p.extend(self.deflate.compress(&headers)?);
                (HEADERS, flags)
            }
            Frame::RstStream { stream_id, status } => {
                p.put_u32(stream_id & STREAM_ID_MASK);
                p.put_u32(status);
                (RST_STREAM, 0)
            }
            Frame::Settings { flags, entries } => {
                p.put_u32(entries.len() as u32);
                for (f, id, value) in entries {
                    p.put_u32(((f as u32) << 24) | (id & 0xff_ffff));
                    p.put_u32(value);
                }
                (SETTINGS, flags)
            }
            Frame::Ping { id } => {
                p.put_u32(id);
                (PING, 0)
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                p.put_u32(last_good_stream_id & STREAM_ID_MASK);
                p.put_u32(status);
                (GOAWAY, 0)
            }
            Frame::WindowUpdate { stream_id, delta } => {
                p.put_u32(stream_id & STREAM_ID_MASK);
                p.put_u32(delta & STREAM_ID_MASK);
                (WINDOW_UPDATE, 0)
            }
            Frame::Unknown { .. } => {
                return Err(SpdyError::Protocol("cannot encode unknown frame"))
            }
        };
        put_control(dst, kind, flags, &p);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frames: Vec<Frame>) {
        let mut tx = SpdyCodec::new().unwrap();
        let mut rx = SpdyCodec::new().unwrap();
        let mut wire = BytesMut::new();
        for f in &frames {
            tx.encode(f.clone(), &mut wire).unwrap();
        }
        let mut got = Vec::new();
        while let Some(f) = rx.decode(&mut wire).unwrap() {
            got.push(f);
        }
        assert!(wire.is_empty());
        assert_eq!(got, frames);
    }

    fn syn(id: u32, kind: &str) -> Frame {
        Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: Headers::default()
                .with("streamtype", kind)
                .with("port", "80")
                .with("requestid", "7"),
        }
    }

    #[test]
    fn every_frame_type_round_trips() {
        round_trip(vec![
            syn(1, "error"),
            syn(3, "data"),
            Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: Headers::default(),
            },
            Frame::Headers {
                stream_id: 3,
                flags: FLAG_FIN,
                headers: Headers::default().with("x", "y"),
            },
            Frame::Data {
                stream_id: 3,
                flags: 0,
                data: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            },
            Frame::Data {
                stream_id: 1,
                flags: FLAG_FIN,
                data: Bytes::new(),
            },
            Frame::RstStream {
                stream_id: 3,
                status: RST_CANCEL,
            },
            Frame::Settings {
                flags: 0,
                entries: vec![(0, 7, 65536), (1, 4, 100)],
            },
            Frame::Ping { id: 1 },
            Frame::WindowUpdate {
                stream_id: 3,
                delta: 4096,
            },
            Frame::GoAway {
                last_good_stream_id: 3,
                status: 0,
            },
        ]);
    }

    #[test]
    fn known_bytes_of_a_ping_and_a_data_frame() {
        let mut c = SpdyCodec::new().unwrap();
        let mut wire = BytesMut::new();
        c.encode(Frame::Ping { id: 5 }, &mut wire).unwrap();
        assert_eq!(&wire[..], &[0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 5]);
        wire.clear();
        c.encode(
            Frame::Data {
                stream_id: 3,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"hi"),
            },
            &mut wire,
        )
        .unwrap();
        assert_eq!(&wire[..], &[0, 0, 0, 3, 1, 0, 0, 2, b'h', b'i']);
    }

    #[test]
    fn partial_input_waits_for_more() {
        let mut tx = SpdyCodec::new().unwrap();
        let mut rx = SpdyCodec::new().unwrap();
        let mut wire = BytesMut::new();
        tx.encode(syn(1, "data"), &mut wire).unwrap();
        let all = wire.split().freeze();
        let mut buf = BytesMut::new();
        for (i, b) in all.iter().enumerate() {
            buf.put_u8(*b);
            let got = rx.decode(&mut buf).unwrap();
            assert_eq!(got.is_some(), i + 1 == all.len());
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut rx = SpdyCodec::new().unwrap();
        // version 2 control frame
        let mut b = BytesMut::from(&[0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert!(rx.decode(&mut b).is_err());
        // PING with a short payload
        let mut b = BytesMut::from(&[0x80, 3, 0, 6, 0, 0, 0, 2, 0, 0][..]);
        assert!(SpdyCodec::new().unwrap().decode(&mut b).is_err());
        // SYN_STREAM whose header block is garbage
        let mut b = BytesMut::from(
            &[
                0x80, 3, 0, 1, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2,
            ][..],
        );
        assert!(SpdyCodec::new().unwrap().decode(&mut b).is_err());
        // unknown control type is passed up to be ignored
        let mut b = BytesMut::from(&[0x80, 3, 0, 10, 0, 0, 0, 0][..]);
        assert_eq!(
            SpdyCodec::new().unwrap().decode(&mut b).unwrap(),
            Some(Frame::Unknown { kind: 10 })
        );
    }
}
