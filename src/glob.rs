//! Glob matching for model names, as Aperture's `models` lists use it (Go `path.Match`
//! subset): `*` matches any run of characters except `/`, `?` one character except `/`.

/// Whether `name` matches `pattern`. Iterative with single backtracking, so linear-ish in
/// practice and never recursive.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    // Position after the last `*` seen, and the name position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let c = n.get(ni).copied();
        match p.get(pi).copied() {
            Some('*') => {
                star = Some((pi + 1, ni));
                pi += 1;
                continue;
            }
            Some('?') if c != Some('/') => {
                pi += 1;
                ni += 1;
                continue;
            }
            Some(pc) if pc != '?' && Some(pc) == c => {
                pi += 1;
                ni += 1;
                continue;
            }
            _ => {}
        }
        match star {
            // Let the last `*` swallow one more character, unless that character is `/`.
            Some((sp, sn)) if n.get(sn) != Some(&'/') => {
                star = Some((sp, sn + 1));
                pi = sp;
                ni = sn + 1;
            }
            _ => return false,
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::matches;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn exact_and_star() {
        assert!(matches("gpt-4.1", "gpt-4.1"));
        assert!(!matches("gpt-4.1", "gpt-4.1-mini"));
        assert!(matches("claude-opus*", "claude-opus-4-5"));
        assert!(matches("claude-opus*", "claude-opus"));
        assert!(matches("*", "anything"));
        assert!(matches("*-mini", "gpt-4.1-mini"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
    }

    #[test]
    fn star_and_question_do_not_cross_slash() {
        assert!(!matches("*", "openai/gpt-5"));
        assert!(matches("*/gpt-5", "openai/gpt-5"));
        assert!(!matches("open?i/x", "open/i/x"));
        assert!(matches("open?i/x", "openai/x"));
    }
}
