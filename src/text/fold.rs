//! Folding text into search terms: the same function for product fields at build time and for what the shopper
//! types, so "Café", "CAFE" and "cafe" meet.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Longest term, in bytes: longer words are cut (they are ids or junk, and long keys slow the dictionary).
pub(crate) const MAX_TERM_BYTES: usize = 48;

/// Letters that compatibility decomposition keeps whole but shoppers type as plain Latin.
fn latin_fallback(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// Scripts written without spaces between words: each of their characters is a term of its own, so a word inside
/// a longer run still matches.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Splits `text` into folded terms: compatibility-decomposed (NFKD), accents dropped, lower case, split at anything
/// that is not a letter or digit; apostrophes inside a word are dropped ("Levi's" -> "levis").
pub(crate) fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let end = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            let mut cut = word.len().min(MAX_TERM_BYTES);
            while !word.is_char_boundary(cut) {
                cut -= 1;
            }
            word.truncate(cut);
            out.push(std::mem::take(word));
        }
    };
    for c in text.nfkd().filter(|&c| !is_combining_mark(c)) {
        for c in c.to_lowercase() {
            if let Some(s) = latin_fallback(c) {
                word.push_str(s);
            } else if is_unspaced_script(c) {
                end(&mut word, &mut out);
                out.push(c.to_string());
            } else if c.is_alphanumeric() {
                word.push(c);
            } else if !matches!(c, '\'' | '’') || word.is_empty() {
                end(&mut word, &mut out);
            }
        }
    }
    end(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accents_and_compatibility_forms_fold() {
        assert_eq!(terms("Café CRÈME brûlée"), ["cafe", "creme", "brulee"]);
        assert_eq!(terms("Straße Ærø Łódź"), ["strasse", "aero", "lodz"]);
        assert_eq!(terms("ﬁne Ｔｅａ ①"), ["fine", "tea", "1"]);
        // Already-composed and decomposed input give the same terms.
        assert_eq!(terms("e\u{301}te\u{301}"), terms("été"));
    }

    #[test]
    fn words_split_at_punctuation_but_not_apostrophes() {
        assert_eq!(terms("Levi's 501® jeans, slim-fit"), ["levis", "501", "jeans", "slim", "fit"]);
        assert_eq!(terms("  "), Vec::<String>::new());
        assert_eq!(terms("'quoted'"), ["quoted"]);
    }

    #[test]
    fn other_scripts() {
        assert_eq!(terms("Чашка БЕЛАЯ"), ["чашка", "белая"]);
        assert_eq!(terms("Κούπα"), ["κουπα"]);
        assert_eq!(terms("马克杯 mug"), ["马", "克", "杯", "mug"]);
        assert_eq!(terms("مج قهوة"), ["مج", "قهوة"]);
    }

    #[test]
    fn long_words_are_cut_on_a_char_boundary() {
        let t = terms(&"é".repeat(100));
        assert_eq!(t[0].len(), MAX_TERM_BYTES);
        let t = terms(&"ж".repeat(100));
        assert!(t[0].len() <= MAX_TERM_BYTES && t[0].chars().all(|c| c == 'ж'));
    }
}
