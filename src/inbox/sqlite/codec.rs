//! Bodies in `event_bodies` are stored LZ4-compressed when that saves space
//! (schema version 9, `event_bodies.codec`).
//!
//! Why: an order event is 14–25 KB of pretty-printed JSON; stored as it
//! came it spans four 4 KB pages, and every page is written twice (the WAL,
//! then the checkpoint into the database file). The writer thread, which
//! stores one event at a time, spent most of its time there. LZ4 (the block
//! format, `lz4_flex`, pure Rust) shrinks such a body about 3× at well over
//! a gigabyte a second, and the compression runs in the caller's task, not
//! in the writer. PostgreSQL needs none of this: it compresses large values
//! itself (TOAST).
//!
//! * `codec` NULL: `body` holds the bytes as received (every event stored
//!   before version 9, and bodies that do not get smaller);
//! * `codec` `'lz4'`: `body` is one LZ4 block without a size prefix; the
//!   size is `events.body_len`, which bounds what decompressing may produce.
//!
//! Every read of a body goes through [`unpack`] (in SQL: the function
//! `tc_body(body, codec, body_len)`, used by the console's body search), so
//! nothing above the SQLite store sees a compressed byte. With the `sqlite3`
//! shell, read a body with `tradecloud inbox show ID --raw` instead.

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::inbox::InboxError;

/// `event_bodies.codec` of an LZ4 block.
pub(crate) const LZ4: &str = "lz4";

/// Bodies shorter than this are stored as they came: too small to gain.
const MIN_LEN: usize = 256;

/// Bodies up to this size are compressed into [`OUTPUT`], larger ones into
/// a buffer of their own (so that one huge body does not keep a buffer of
/// its size for the life of the thread).
const REUSED_MAX_LEN: usize = 256 << 10;

thread_local! {
    /// The compressor's output buffer, reused: `lz4_flex::block::compress`
    /// zeroes a new buffer of the maximum output size (110 % of the body)
    /// for every body, then shrinks it. Here only the compressed bytes are
    /// copied out (about a third of an order event).
    static OUTPUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A body as it goes into `event_bodies`: compressed, or `None` when it is
/// stored as received. Made in the caller's task ([`Packed::of`]).
#[derive(Debug, Default)]
pub(crate) struct Packed(Option<Vec<u8>>);

impl Packed {
    /// Compress `body` when it is at least [`MIN_LEN`] bytes and LZ4 saves
    /// at least an eighth of it.
    pub(crate) fn of(body: &[u8]) -> Packed {
        if body.len() < MIN_LEN {
            return Packed(None);
        }
        let gain = |compressed: &[u8]| compressed.len() <= body.len() - body.len() / 8;
        if body.len() > REUSED_MAX_LEN {
            let compressed = lz4_flex::block::compress(body);
            return Packed(gain(&compressed).then_some(compressed));
        }
        OUTPUT.with_borrow_mut(|output| {
            let size = lz4_flex::block::get_maximum_output_size(body.len());
            if output.len() < size {
                output.resize(size, 0);
            }
            match lz4_flex::block::compress_into(body, output) {
                Ok(n) if gain(&output[..n]) => Packed(Some(output[..n].to_vec())),
                // A buffer of the maximum output size cannot be too small;
                // were it, the body is stored as it came.
                _ => Packed(None),
            }
        })
    }

    /// The `body` and `codec` columns for `body` (the bytes this was made of).
    pub(crate) fn columns<'a>(&'a self, body: &'a [u8]) -> (&'a [u8], Option<&'static str>) {
        match &self.0 {
            Some(compressed) => (compressed, Some(LZ4)),
            None => (body, None),
        }
    }
}

/// The body as received from the `body` and `codec` columns; `len` is
/// `events.body_len`. A codec this build does not know, or a block that
/// does not decompress to exactly `len` bytes, is an error naming it.
pub(crate) fn unpack(
    stored: Vec<u8>,
    codec: Option<&str>,
    len: u64,
) -> Result<Vec<u8>, InboxError> {
    match codec {
        None => Ok(stored),
        Some(LZ4) => {
            // LZ4 cannot expand more than 255 to 1: a larger `len` is a
            // damaged row, not an allocation to attempt.
            let bound = (stored.len() as u64).saturating_mul(255).saturating_add(16);
            let size = usize::try_from(len)
                .ok()
                .filter(|_| len <= bound)
                .ok_or_else(|| damaged(len, "the size does not fit the stored bytes"))?;
            let body = lz4_flex::block::decompress(&stored, size)
                .map_err(|e| damaged(len, &e.to_string()))?;
            if body.len() == size {
                Ok(body)
            } else {
                Err(damaged(len, &format!("{} bytes came out", body.len())))
            }
        }
        Some(other) => Err(InboxError::Invalid(format!(
            "a body is stored with codec {other:?}, which this build of tradecloud does not know \
             (a newer version wrote it): use that version"
        ))),
    }
}

fn damaged(len: u64, what: &str) -> InboxError {
    InboxError::Invalid(format!(
        "a stored body of {len} bytes does not decompress ({what}): the inbox file is damaged"
    ))
}

/// Register `tc_body(body, codec, body_len)` on `conn`: the body as
/// received, for SQL that looks into bodies (the console's search; see
/// [`BODY_AS_RECEIVED`]).
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "tc_body",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let stored: Vec<u8> = ctx.get(0)?;
            let codec: Option<String> = ctx.get(1)?;
            let len: i64 = ctx.get(2)?;
            unpack(
                stored,
                codec.as_deref(),
                u64::try_from(len).unwrap_or(u64::MAX),
            )
            .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))
        },
    )
}

/// SQL for the body as received of `event_bodies b` joined with `events`
/// (its `body_len`): bodies stored as they came are not copied through
/// [`register`]'s function.
pub(crate) const BODY_AS_RECEIVED: &str =
    "CASE WHEN b.codec IS NULL THEN b.body ELSE tc_body(b.body, b.codec, events.body_len) END";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_come_back_byte_for_byte() {
        let json = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/order-webhook/order-event.json"
        ))
        .unwrap();
        let mut binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        binary.extend([0u8; 4096]);
        let nul_text = "{\"a\":\"\0\"}".repeat(100).into_bytes();
        for body in [
            Vec::new(),
            b"{}".to_vec(),
            json.clone(),
            // Compressed in the thread's reused buffer, which grows, then
            // serves smaller bodies; and one too large for that buffer.
            json.repeat(10),
            json.clone(),
            json.repeat(50),
            binary,
            nul_text,
        ] {
            let packed = Packed::of(&body);
            let (stored, codec) = packed.columns(&body);
            let back = unpack(stored.to_vec(), codec, body.len() as u64).unwrap();
            assert_eq!(back, body);
        }
        let packed = Packed::of(&json);
        let (stored, codec) = packed.columns(&json);
        assert_eq!(codec, Some(LZ4));
        assert!(
            stored.len() * 2 < json.len(),
            "{} of {}",
            stored.len(),
            json.len()
        );
    }

    #[test]
    fn small_and_incompressible_bodies_are_stored_as_they_came() {
        assert_eq!(Packed::of(b"{\"eventName\":\"x\"}").columns(b"").1, None);
        // xorshift64: bytes LZ4 cannot shrink.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        assert_eq!(Packed::of(&noise).columns(&noise).1, None);
    }

    #[test]
    fn a_damaged_body_or_an_unknown_codec_is_an_error_not_a_wrong_body() {
        let json = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/order-webhook/order-event.json"
        ))
        .unwrap();
        let packed = Packed::of(&json);
        let (stored, codec) = packed.columns(&json);
        // The wrong size: too small, too large.
        for len in [json.len() as u64 - 1, json.len() as u64 + 1, 0] {
            let err = unpack(stored.to_vec(), codec, len).unwrap_err();
            assert!(err.to_string().contains("damaged"), "{err}");
        }
        // Truncated.
        let err = unpack(
            stored[..stored.len() / 2].to_vec(),
            codec,
            json.len() as u64,
        )
        .unwrap_err();
        assert!(err.to_string().contains("damaged"), "{err}");
        let err = unpack(stored.to_vec(), Some("zstd"), json.len() as u64).unwrap_err();
        assert!(err.to_string().contains("\"zstd\""), "{err}");
    }
}
