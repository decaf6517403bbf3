//! multipart/related bodies (RFC 2387 over RFC 2046 5.1) as DICOMweb uses them: STOW-RS
//! requests and WADO-RS responses of `type="application/dicom"` parts (PS3.18 8.6.1.2).
//!
//! [`Parser`] is a push parser: feed it the request body chunk by chunk as it arrives and
//! it hands back events (a part's headers, pieces of its body, its end), holding back at
//! most a boundary's length of bytes, so a request is never held in memory whole. A body
//! that ends before the closing delimiter is [`MultipartError::Truncated`], and the parts
//! completed before it stand. [`Builder`] writes the framing of a response.

/// A multipart parsing failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("请求体不完整 / the multipart body ends before its closing boundary")]
    Truncated,
    #[error("分段头部过长或无效 / a part's headers are too long or malformed")]
    BadHeaders,
    #[error(
        "Content-Type 须为 multipart/related 且带 boundary / Content-Type must be multipart/related with a boundary: {0}"
    )]
    ContentType(String),
}

/// A parsed `Content-Type: multipart/related; type=…; boundary=…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType {
    pub boundary: String,
    /// The `type` parameter (the root part's media type), lower-cased; empty when absent.
    pub part_type: String,
}

/// Parse a multipart/related Content-Type header value.
pub fn content_type(value: &str) -> Result<ContentType, MultipartError> {
    let mut parts = value.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if mime != "multipart/related" {
        return Err(MultipartError::ContentType(format!("got {mime:?}")));
    }
    let mut boundary = None;
    let mut part_type = String::new();
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "boundary" => boundary = Some(v.to_owned()),
            "type" => part_type = v.to_ascii_lowercase(),
            _ => {}
        }
    }
    let boundary = boundary
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| MultipartError::ContentType("no boundary parameter".into()))?;
    Ok(ContentType {
        boundary,
        part_type,
    })
}

/// What the parser found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A part begins; its headers, names lower-cased.
    Headers(Vec<(String, String)>),
    /// The next piece of the current part's body.
    Body(Vec<u8>),
    /// The current part is complete.
    PartEnd,
    /// The closing delimiter was read: no more parts.
    End,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Preamble,
    AfterDelimiter,
    Headers,
    Body,
    Epilogue,
}

const MAX_HEADERS: usize = 16 * 1024;

/// The push parser; see the module docs.
#[derive(Debug)]
pub struct Parser {
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    state: State,
    buf: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match haystack[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                let at = i + p;
                if &haystack[at..at + needle.len()] == needle {
                    return Some(at);
                }
                i = at + 1;
            }
        }
    }
    None
}

impl Parser {
    pub fn new(boundary: &str) -> Parser {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        // The first delimiter may open the body with no CRLF before it: start as if one
        // had been read.
        Parser {
            delimiter,
            state: State::Preamble,
            buf: b"\r\n".to_vec(),
        }
    }

    /// Feed the next chunk; events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<Event>) -> Result<(), MultipartError> {
        self.buf.extend_from_slice(chunk);
        loop {
            match self.state {
                State::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(at) => {
                        self.buf.drain(..at + self.delimiter.len());
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        let keep = self.delimiter.len().min(self.buf.len());
                        self.buf.drain(..self.buf.len() - keep);
                        return Ok(());
                    }
                },
                State::AfterDelimiter => {
                    // `--` closes; otherwise optional transport padding, then CRLF.
                    if self.buf.len() < 2 {
                        return Ok(());
                    }
                    if self.buf.starts_with(b"--") {
                        self.buf.clear();
                        self.state = State::Epilogue;
                        out.push(Event::End);
                        continue;
                    }
                    let Some(crlf) = find(&self.buf, b"\r\n") else {
                        if self.buf.len() > 256 {
                            return Err(MultipartError::BadHeaders);
                        }
                        return Ok(());
                    };
                    if !self.buf[..crlf].iter().all(|&b| b == b' ' || b == b'\t') {
                        return Err(MultipartError::BadHeaders);
                    }
                    self.buf.drain(..crlf + 2);
                    self.state = State::Headers;
                }
                State::Headers => {
                    if self.buf.starts_with(b"\r\n") {
                        self.buf.drain(..2);
                        out.push(Event::Headers(Vec::new()));
                        self.state = State::Body;
                        continue;
                    }
                    let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                        if self.buf.len() > MAX_HEADERS {
                            return Err(MultipartError::BadHeaders);
                        }
                        return Ok(());
                    };
                    let text = std::str::from_utf8(&self.buf[..end])
                        .map_err(|_| MultipartError::BadHeaders)?;
                    let headers = text
                        .split("\r\n")
                        .filter_map(|line| {
                            let (k, v) = line.split_once(':')?;
                            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        })
                        .collect();
                    self.buf.drain(..end + 4);
                    out.push(Event::Headers(headers));
                    self.state = State::Body;
                }
                State::Body => match find(&self.buf, &self.delimiter) {
                    Some(at) => {
                        if at > 0 {
                            out.push(Event::Body(self.buf[..at].to_vec()));
                        }
                        out.push(Event::PartEnd);
                        self.buf.drain(..at + self.delimiter.len());
                        self.state = State::AfterDelimiter;
                    }
                    None => {
                        // Hand on all but what could be the start of a delimiter.
                        let keep = (self.delimiter.len() - 1).min(self.buf.len());
                        let cut = self.buf.len() - keep;
                        if cut > 0 {
                            out.push(Event::Body(self.buf[..cut].to_vec()));
                            self.buf.drain(..cut);
                        }
                        return Ok(());
                    }
                },
                State::Epilogue => {
                    self.buf.clear();
                    return Ok(());
                }
            }
        }
    }

    /// The body ended: an error unless the closing delimiter was read.
    pub fn finish(&self) -> Result<(), MultipartError> {
        if self.state == State::Epilogue {
            Ok(())
        } else {
            Err(MultipartError::Truncated)
        }
    }
}

/// The framing of a multipart/related response: `head` before each part, `close` after
/// the last.
#[derive(Debug)]
pub struct Builder {
    pub boundary: String,
    first: bool,
}

impl Builder {
    pub fn new(boundary: impl Into<String>) -> Builder {
        Builder {
            boundary: boundary.into(),
            first: true,
        }
    }

    /// A fresh boundary: unlikely to occur in DICOM bytes (it is 32 random-looking hex
    /// digits), and distinct between responses.
    pub fn fresh() -> Builder {
        use sha2::Digest;
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let digest = sha2::Sha256::digest(format!("{t}:{n}:{}", std::process::id()));
        Builder::new(format!("yiwei-{}", hex::encode(&digest[..16])))
    }

    /// The response's Content-Type.
    pub fn content_type(&self, part_type: &str) -> String {
        format!(
            "multipart/related; type=\"{part_type}\"; boundary={}",
            self.boundary
        )
    }

    /// The delimiter and headers that open the next part.
    pub fn head(&mut self, content_type: &str, location: Option<&str>) -> Vec<u8> {
        let mut s = String::with_capacity(128);
        if !self.first {
            s.push_str("\r\n");
        }
        self.first = false;
        s.push_str("--");
        s.push_str(&self.boundary);
        s.push_str("\r\nContent-Type: ");
        s.push_str(content_type);
        if let Some(l) = location {
            s.push_str("\r\nContent-Location: ");
            s.push_str(l);
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// The closing delimiter.
    pub fn close(&self) -> Vec<u8> {
        format!("\r\n--{}--\r\n", self.boundary).into_bytes()
    }
}

/// Build a whole body from parts (tests and the generator's clients).
pub fn build(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Builder::new(boundary);
    let mut out = Vec::new();
    for (content_type, body) in parts {
        out.extend(b.head(content_type, None));
        out.extend_from_slice(body);
    }
    out.extend(b.close());
    out
}

/// A part held whole: its headers (names lower-cased) and body.
pub type Part = (Vec<(String, String)>, Vec<u8>);

/// Parse a whole body held in memory into (headers, body) parts, feeding it in chunks of
/// `chunk` bytes (tests use odd sizes to cut boundaries anywhere).
pub fn parse_all(boundary: &str, body: &[u8], chunk: usize) -> Result<Vec<Part>, MultipartError> {
    let mut p = Parser::new(boundary);
    let mut events = Vec::new();
    for piece in body.chunks(chunk.max(1)) {
        p.feed(piece, &mut events)?;
    }
    p.finish()?;
    let mut parts = Vec::new();
    for e in events {
        match e {
            Event::Headers(h) => parts.push((h, Vec::new())),
            Event::Body(b) => {
                if let Some(last) = parts.last_mut() {
                    last.1.extend(b);
                }
            }
            Event::PartEnd | Event::End => {}
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters_are_read_quoted_or_not() {
        let c =
            content_type("multipart/related; type=\"application/dicom\"; boundary=abc").unwrap();
        assert_eq!(c.boundary, "abc");
        assert_eq!(c.part_type, "application/dicom");
        let c = content_type("Multipart/Related;boundary=\"x y\";type=application/DICOM").unwrap();
        assert_eq!(
            (c.boundary.as_str(), c.part_type.as_str()),
            ("x y", "application/dicom")
        );
        assert!(content_type("application/dicom").is_err());
        assert!(content_type("multipart/related; type=application/dicom").is_err());
    }

    #[test]
    fn a_body_with_preamble_padding_and_epilogue_parses() {
        let body = b"preamble\r\n--b  \r\nContent-Type: application/dicom\r\n\r\nONE\r\n--b\r\n\r\nTWO\r\n--b--\r\nepilogue";
        let parts = parse_all("b", body, 3).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0].0,
            vec![("content-type".into(), "application/dicom".into())]
        );
        assert_eq!(parts[0].1, b"ONE");
        assert_eq!(parts[1].1, b"TWO");
    }

    #[test]
    fn a_body_cut_short_is_truncated_after_its_complete_parts() {
        let body = build(
            "b",
            &[("application/dicom", b"ONE"), ("application/dicom", b"TWO")],
        );
        let cut = &body[..body.len() - 12];
        let mut p = Parser::new("b");
        let mut events = Vec::new();
        p.feed(cut, &mut events).unwrap();
        assert_eq!(p.finish(), Err(MultipartError::Truncated));
        assert_eq!(events.iter().filter(|e| **e == Event::PartEnd).count(), 1);
    }

    proptest::proptest! {
        #[test]
        fn build_then_parse_round_trips_at_any_chunking(
            bodies in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 0..5),
            chunk in 1usize..64,
            boundary in "[A-Za-z0-9'()+_,./:=?-]{1,40}",
        ) {
            // A boundary must not occur in the bodies (RFC 2046 5.1.1); skip the rare case.
            let delimiter = format!("\r\n--{boundary}");
            proptest::prop_assume!(bodies.iter().all(|b| find(b, delimiter.as_bytes()).is_none()));
            let parts: Vec<(&str, &[u8])> = bodies.iter().map(|b| ("application/dicom", b.as_slice())).collect();
            let body = build(&boundary, &parts);
            let parsed = parse_all(&boundary, &body, chunk).unwrap();
            proptest::prop_assert_eq!(parsed.len(), bodies.len());
            for (p, b) in parsed.iter().zip(&bodies) {
                proptest::prop_assert_eq!(&p.1, b);
            }
        }

        #[test]
        fn any_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400), chunk in 1usize..50) {
            let _ = parse_all("b", &body, chunk);
        }
    }
}
