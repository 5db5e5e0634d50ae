//! A cap on the size of each message a client sends, checked at the message's header.
//!
//! pgwire buffers a whole message before it decodes it and accepts up to 1 GiB for a query,
//! whatever the connection's state: before this cap, three clients that had not logged in made
//! the server hold 600 MB by announcing huge messages and sending their bodies slowly. The
//! reader here sits between the (decrypted) socket and pgwire's decoder, follows the protocol's
//! framing byte by byte, and fails the read as soon as a header announces more than the
//! connection's state allows, so no body is ever buffered past it.
//!
//! Framing (PostgreSQL protocol 3): the first messages have no type byte (a 4-byte length that
//! counts itself, then a 4-byte code: startup, SSL, GSS or cancel request); after the startup
//! message every message is a type byte followed by the 4-byte length.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Before login: the startup and password messages only. PostgreSQL allows 10,000 bytes for a
/// startup packet and 65,535 for an authentication token; pgwire 10,000 for both.
pub(crate) const BEFORE_LOGIN: u32 = 64 * 1024;

/// After login: a query's text is at most the tenant's `max_sql_bytes` (64 KiB by default) and
/// COPY is refused, so 4 MiB leaves room for bound parameters while a connection can make the
/// server hold at most this much of a message at a time.
pub(crate) const AFTER_LOGIN: u32 = 4 * 1024 * 1024;

/// Codes of the untyped requests that may come before the startup message (PostgreSQL's
/// `CANCEL_REQUEST_CODE`, `NEGOTIATE_SSL_CODE`, `NEGOTIATE_GSS_CODE`).
const CANCEL_REQUEST: u32 = 80_877_102;
const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;

/// Why a message was refused: its announced length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MessageRefused {
    #[error("a message of {announced} bytes, over the limit of {limit} bytes {when} login")]
    TooLarge {
        announced: u32,
        limit: u32,
        when: &'static str,
    },
    #[error("a message announcing a length of {0} bytes, less than its own header")]
    Malformed(i32),
}

/// Where the reader is in the client's stream of messages.
#[derive(Debug, Clone)]
pub(crate) struct Framing {
    /// Still before the startup message: headers have no type byte.
    untyped: bool,
    /// Bytes of the current header read so far (at most 8).
    header: [u8; 8],
    have: usize,
    /// Bytes of the current message's body still to come; 0 when at a header.
    body_left: u64,
    logged_in: bool,
}

impl Framing {
    /// At the first byte a client sends.
    pub(crate) fn new() -> Framing {
        Framing {
            untyped: true,
            header: [0; 8],
            have: 0,
            body_left: 0,
            logged_in: false,
        }
    }

    /// After this, headers are checked against [`AFTER_LOGIN`].
    pub(crate) fn set_logged_in(&mut self, logged_in: bool) {
        self.logged_in = logged_in;
    }

    /// Follows `bytes`, the next bytes of the stream; refuses at the first header over the limit.
    pub(crate) fn observe(&mut self, mut bytes: &[u8]) -> Result<(), MessageRefused> {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let skip = bytes
                    .len()
                    .min(usize::try_from(self.body_left).unwrap_or(usize::MAX));
                self.body_left -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            let header_len = if self.untyped { 8 } else { 5 };
            let take = (header_len - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if self.have == header_len {
                self.have = 0;
                self.body_left = self.header_done()?;
            }
        }
        Ok(())
    }

    /// Checks a complete header; the body length that follows it.
    fn header_done(&mut self) -> Result<u64, MessageRefused> {
        let h = &self.header;
        let (length, counted) = if self.untyped {
            (i32::from_be_bytes([h[0], h[1], h[2], h[3]]), 8)
        } else {
            (i32::from_be_bytes([h[1], h[2], h[3], h[4]]), 4)
        };
        if length < counted {
            return Err(MessageRefused::Malformed(length));
        }
        let announced = length as u32;
        let (limit, when) = if self.logged_in {
            (AFTER_LOGIN, "after")
        } else {
            (BEFORE_LOGIN, "before")
        };
        if announced > limit {
            return Err(MessageRefused::TooLarge {
                announced,
                limit,
                when,
            });
        }
        if self.untyped {
            let code = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            // SSL and GSS requests (and a cancel, which ends the connection) are followed by
            // another untyped message; the startup message by typed ones.
            self.untyped = matches!(code, SSL_REQUEST | GSS_REQUEST | CANCEL_REQUEST);
        }
        Ok(u64::from(announced) - counted as u64)
    }
}

/// A stream whose reads follow [`Framing`]: a read that would deliver a refused header fails
/// with [`io::ErrorKind::InvalidData`] carrying the [`MessageRefused`].
#[derive(Debug)]
pub(crate) struct Limited<S> {
    inner: S,
    framing: Framing,
}

impl<S> Limited<S> {
    /// `already` are the bytes a reader before this one took from `inner` (they are checked
    /// here, and the caller keeps them for the decoder).
    pub(crate) fn new(inner: S, already: &[u8]) -> io::Result<Limited<S>> {
        let mut framing = Framing::new();
        framing.observe(already).map_err(refused)?;
        Ok(Limited { inner, framing })
    }

    pub(crate) fn set_logged_in(&mut self, logged_in: bool) {
        self.framing.set_logged_in(logged_in);
    }
}

fn refused(why: MessageRefused) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// The refusal inside an error from a [`Limited`] read, if that is what it was.
pub(crate) fn refusal(e: &io::Error) -> Option<&MessageRefused> {
    e.get_ref()?.downcast_ref::<MessageRefused>()
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let fresh = &buf.filled()[before..];
                Poll::Ready(this.framing.observe(fresh).map_err(refused))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let body = b"\0\x03\0\0user\0a\0\0";
        let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        m.extend_from_slice(body);
        m
    }

    fn typed(kind: u8, body_len: usize) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body_len + 4) as i32).to_be_bytes());
        m.extend(std::iter::repeat_n(b'x', body_len));
        m
    }

    /// The same verdict wherever the stream is cut into reads, one byte at a time included.
    /// The server learns of the login only after reading the password message (a client waits
    /// for the answer before it sends a query), so the stream is cut there too.
    fn verdict(stream: &[u8], login_at: usize) -> Result<(), MessageRefused> {
        let (before, after) = stream.split_at(login_at.min(stream.len()));
        let mut verdicts = Vec::new();
        for chunk in [1, 2, 3, 5, 7, 4096] {
            let mut framing = Framing::new();
            let result = before
                .chunks(chunk)
                .try_for_each(|piece| framing.observe(piece))
                .and_then(|()| {
                    framing.set_logged_in(true);
                    after
                        .chunks(chunk)
                        .try_for_each(|piece| framing.observe(piece))
                });
            verdicts.push(result);
        }
        assert!(verdicts.windows(2).all(|w| w[0] == w[1]), "{verdicts:?}");
        verdicts.remove(0)
    }

    #[test]
    fn a_huge_message_before_login_is_refused_at_its_header() {
        let mut stream = startup();
        stream.push(b'Q');
        stream.extend_from_slice(&(300 * 1024 * 1024i32).to_be_bytes());
        assert_eq!(
            verdict(&stream, usize::MAX),
            Err(MessageRefused::TooLarge {
                announced: 300 * 1024 * 1024,
                limit: BEFORE_LOGIN,
                when: "before"
            })
        );
    }

    #[test]
    fn after_login_a_bigger_query_passes_and_a_huge_one_does_not() {
        let mut stream = startup();
        stream.extend(typed(b'p', 20));
        let login = stream.len();
        stream.extend(typed(b'Q', 1024 * 1024));
        stream.extend(typed(b'S', 0));
        assert_eq!(verdict(&stream, login), Ok(()));
        assert!(verdict(&stream, usize::MAX).is_err(), "1 MiB before login");
        stream.extend(typed(b'Q', AFTER_LOGIN as usize));
        assert!(matches!(
            verdict(&stream, login),
            Err(MessageRefused::TooLarge { when: "after", .. })
        ));
    }

    #[test]
    fn an_ssl_request_is_followed_by_an_untyped_startup() {
        let mut stream = vec![0, 0, 0, 8];
        stream.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        stream.extend(startup());
        stream.extend(typed(b'p', 100));
        assert_eq!(verdict(&stream, usize::MAX), Ok(()));
    }

    #[test]
    fn a_length_shorter_than_its_header_is_malformed() {
        let mut stream = startup();
        stream.extend_from_slice(&[b'Q', 0, 0, 0, 3]);
        assert_eq!(
            verdict(&stream, usize::MAX),
            Err(MessageRefused::Malformed(3))
        );
        assert_eq!(
            verdict(&[0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0], usize::MAX),
            Err(MessageRefused::Malformed(-1))
        );
    }
}
