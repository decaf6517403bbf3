//! The text encoding of an imported file: UTF-8, or GBK/GB18030 (what Excel on a Chinese
//! Windows writes for "CSV (逗号分隔)"), turned into UTF-8 as the file streams.
//!
//! `auto` looks at the first 64 KiB: a UTF-8 byte-order mark, or bytes that are valid UTF-8
//! (a multi-byte character cut at the end of the sample allowed), mean UTF-8; anything else
//! is read as GB18030, the superset of GBK and GB2312, so every GBK file decodes the same.
//! Plain ASCII is both, and reads the same either way. A GB18030 byte sequence that is not
//! a character becomes U+FFFD and the row shows it; nothing is dropped silently.

use std::io::{self, Read};

use encoding_rs::{Decoder, GB18030, UTF_8};

/// A reader that counts the bytes read through it (for a progress bar over the raw file).
pub struct Counted<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R> Counted<R> {
    pub fn new(inner: R, read: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Counted<R> {
        Counted { inner, read }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The encoding asked for on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TextEncoding {
    /// UTF-8 with or without a byte-order mark, else GBK/GB18030.
    Auto,
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// GBK, GB2312 and GB18030 (read as GB18030).
    #[value(alias = "gb18030", alias = "gb2312")]
    Gbk,
}

/// How many bytes `auto` looks at.
const SNIFF: usize = 64 * 1024;

/// What `auto` decides for a file that starts with `head`.
pub fn sniff(head: &[u8]) -> TextEncoding {
    if head.starts_with(b"\xEF\xBB\xBF") {
        return TextEncoding::Utf8;
    }
    match std::str::from_utf8(head) {
        Ok(_) => TextEncoding::Utf8,
        // Cut inside a character at the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
        Err(_) => TextEncoding::Gbk,
    }
}

/// `input` as UTF-8 bytes, decoded from `encoding` (`Auto`: sniffed from its start). A
/// UTF-8 byte-order mark is removed either way.
pub fn utf8_reader(
    mut input: impl Read,
    encoding: TextEncoding,
) -> io::Result<Utf8Reader<impl Read>> {
    let mut head = Vec::with_capacity(SNIFF);
    (&mut input).take(SNIFF as u64).read_to_end(&mut head)?;
    let chosen = match encoding {
        TextEncoding::Auto => sniff(&head),
        other => other,
    };
    let decoder = match chosen {
        TextEncoding::Gbk => GB18030.new_decoder_without_bom_handling(),
        // UTF-8 passes through the decoder too: it removes a BOM and replaces invalid
        // bytes with U+FFFD, so the CSV reader always sees valid UTF-8.
        _ => UTF_8.new_decoder_with_bom_removal(),
    };
    Ok(Utf8Reader {
        inner: io::Cursor::new(head).chain(input),
        decoder,
        raw: vec![0; 16 * 1024],
        raw_len: 0,
        out: String::new(),
        out_pos: 0,
        finished: false,
        encoding: chosen,
    })
}

/// A reader that decodes its inner reader to UTF-8 as it is read.
pub struct Utf8Reader<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    raw_len: usize,
    out: String,
    out_pos: usize,
    finished: bool,
    encoding: TextEncoding,
}

impl<R> Utf8Reader<R> {
    /// The encoding the file is read as (`Utf8` or `Gbk`, never `Auto`).
    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let pending = &self.out.as_bytes()[self.out_pos..];
                let n = pending.len().min(buf.len());
                buf[..n].copy_from_slice(&pending[..n]);
                self.out_pos += n;
                return Ok(n);
            }
            if self.finished || buf.is_empty() {
                return Ok(0);
            }
            // Refill: read raw bytes, decode them all (the decoder keeps a character cut
            // at the end of a chunk for the next call).
            self.raw_len = self.inner.read(&mut self.raw)?;
            let last = self.raw_len == 0;
            self.out.clear();
            self.out_pos = 0;
            let capacity = self
                .decoder
                .max_utf8_buffer_length(self.raw_len)
                .unwrap_or(self.raw_len * 3 + 16);
            self.out.reserve(capacity);
            let (_, read, _) =
                self.decoder
                    .decode_to_string(&self.raw[..self.raw_len], &mut self.out, last);
            debug_assert_eq!(read, self.raw_len);
            if last {
                self.finished = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(bytes: &[u8], encoding: TextEncoding) -> (String, TextEncoding) {
        let mut r = utf8_reader(bytes, encoding).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (s, r.encoding())
    }

    const HEADER: &str = "姓名,性别,出生日期,村\n韦秀英,女,1958-03-09,451226100201\n";

    #[test]
    fn utf8_with_and_without_a_bom_reads_as_is() {
        assert_eq!(
            decode(HEADER.as_bytes(), TextEncoding::Auto),
            (HEADER.to_owned(), TextEncoding::Utf8)
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(HEADER.as_bytes());
        assert_eq!(decode(&bom, TextEncoding::Auto).0, HEADER);
        assert_eq!(decode(&bom, TextEncoding::Utf8).0, HEADER);
    }

    #[test]
    fn gbk_from_excel_is_detected_and_decoded() {
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(HEADER);
        assert!(!unmappable);
        assert_ne!(gbk.as_ref(), HEADER.as_bytes());
        assert_eq!(
            decode(&gbk, TextEncoding::Auto),
            (HEADER.to_owned(), TextEncoding::Gbk)
        );
        assert_eq!(decode(&gbk, TextEncoding::Gbk).0, HEADER);
        // Asked to read GBK as UTF-8, the bad bytes show as U+FFFD instead of vanishing.
        assert!(decode(&gbk, TextEncoding::Utf8).0.contains('\u{FFFD}'));
    }

    #[test]
    fn a_character_cut_at_the_end_of_the_sample_is_still_utf8() {
        let s = "村".repeat(SNIFF); // 3 bytes each: the sample ends inside one
        assert_eq!(sniff(&s.as_bytes()[..SNIFF]), TextEncoding::Utf8);
        assert_eq!(decode(s.as_bytes(), TextEncoding::Auto).0, s);
    }

    proptest! {
        #[test]
        fn any_chinese_text_survives_gbk_and_utf8_in_any_chunking(
            text in "[,\\n0-9a-z\u{4e00}-\u{9fa5}]{0,400}",
            chunk in 1usize..17,
        ) {
            let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
            for (bytes, enc) in [(gbk.as_ref(), TextEncoding::Gbk), (text.as_bytes(), TextEncoding::Utf8)] {
                let mut r = utf8_reader(bytes, enc).unwrap();
                let mut out = Vec::new();
                let mut buf = vec![0; chunk];
                loop {
                    let n = r.read(&mut buf).unwrap();
                    if n == 0 { break; }
                    out.extend_from_slice(&buf[..n]);
                }
                prop_assert_eq!(String::from_utf8(out).unwrap(), text.clone());
            }
        }
    }
}
