//! HuJSON ("human JSON", the format Aperture's config is written in): JSON plus `//` and
//! `/* */` comments and trailing commas. [`to_json`] turns it into plain JSON.

/// Strips comments and trailing commas, leaving strings untouched. Comments become spaces
/// (newlines kept) so that line and column numbers of later errors stay right.
pub fn to_json(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                let end = string_end(bytes, i)?;
                out.extend_from_slice(bytes.get(i..end).unwrap_or_default());
                i = end;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while let Some(&c) = bytes.get(i) {
                    if c == b'\n' {
                        break;
                    }
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let start = i;
                out.extend_from_slice(b"  ");
                i += 2;
                loop {
                    match bytes.get(i) {
                        None => return Err(format!("unterminated /* comment at byte {start}")),
                        Some(b'*') if bytes.get(i + 1) == Some(&b'/') => {
                            out.extend_from_slice(b"  ");
                            i += 2;
                            break;
                        }
                        Some(b'\n') => out.push(b'\n'),
                        Some(_) => out.push(b' '),
                    }
                    i += 1;
                }
            }
            b',' => {
                if next_significant(bytes, i + 1).is_some_and(|c| c == b'}' || c == b']') {
                    out.push(b' ');
                } else {
                    out.push(b',');
                }
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "config is not valid UTF-8".to_string())
}

/// Index one past the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, String> {
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None => return Err(format!("unterminated string at byte {start}")),
            Some(b'\\') => i += 2,
            Some(b'"') => return Ok(i + 1),
            Some(_) => i += 1,
        }
    }
}

/// The next byte that is neither white space nor inside a comment.
fn next_significant(bytes: &[u8], mut i: usize) -> Option<u8> {
    loop {
        match bytes.get(i)? {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while bytes.get(i).is_some()
                    && !(bytes.get(i) == Some(&b'*') && bytes.get(i + 1) == Some(&b'/'))
                {
                    i += 1;
                }
                i += 2;
            }
            &c => return Some(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn parse(text: &str) -> serde_json::Value {
        serde_json::from_str(&to_json(text).unwrap()).unwrap()
    }

    #[test]
    fn comments_and_trailing_commas_are_removed() {
        let v = parse(
            "{\n // a comment\n \"a\": [1, 2, /* inline */ 3,],\n \"b\": {\"c\": true,},\n}\n",
        );
        assert_eq!(v, serde_json::json!({"a": [1, 2, 3], "b": {"c": true}}));
    }

    #[test]
    fn comment_markers_inside_strings_are_kept() {
        let v = parse(r#"{"url": "http://x//y", "s": "a /* b */ c", "q": "\"//\","}"#);
        assert_eq!(v["url"], "http://x//y");
        assert_eq!(v["s"], "a /* b */ c");
        assert_eq!(v["q"], "\"//\",");
    }

    #[test]
    fn trailing_comma_before_a_comment_and_bracket() {
        let v = parse("[1, // one\n 2, // two\n]");
        assert_eq!(v, serde_json::json!([1, 2]));
    }

    #[test]
    fn line_numbers_survive_comment_removal() {
        let text = "{\n/* two\nlines */\n\"a\": nope}";
        let err = serde_json::from_str::<serde_json::Value>(&to_json(text).unwrap()).unwrap_err();
        assert_eq!(err.line(), 4);
    }

    #[test]
    fn unterminated_comment_is_an_error() {
        assert!(to_json("{} /* open").is_err());
        assert!(to_json("{\"a\": \"open}").is_err());
    }
}
