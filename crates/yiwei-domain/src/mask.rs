//! Masking (脱敏) of personal identifiers for display.
//!
//! Pages never show a full ID-card number, phone number or, in lists, a full name; revealing
//! one is a separate, audited action. The shapes follow common practice in Chinese health
//! systems: the ID card keeps its 6-digit area code and last 4 characters (so the birth date
//! is hidden), the mobile number its 3-digit prefix and last 4 digits, the name its first
//! character. Masking works on characters, not bytes, and never panics on odd input.

/// `451226199001011234` → `451226********1234`.
pub fn id_card(value: &str) -> String {
    keep_ends(value, 6, 4)
}

/// `13812345678` → `138****5678`; short or landline numbers keep their last 4 at most.
pub fn phone(value: &str) -> String {
    let n = value.chars().count();
    if n >= 11 {
        keep_ends(value, 3, 4)
    } else {
        keep_ends(value, 0, 4)
    }
}

/// `张三` → `张*`, `欧阳娜娜` → `欧***`, `Li Lei` → `L*****`.
pub fn name(value: &str) -> String {
    let mut chars = value.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let mut out = String::from(first);
            out.extend(chars.map(|_| '*'));
            out
        }
    }
}

fn keep_ends(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_the_agreed_parts() {
        assert_eq!(id_card("451226199001011234"), "451226********1234");
        assert_eq!(id_card("45122619900101123X"), "451226********123X");
        assert_eq!(id_card("451226900101123"), "451226*****1123");
        assert_eq!(id_card("123"), "***");
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(phone("+8613812345678"), "+86*******5678");
        assert_eq!(phone("1234"), "****");
        assert_eq!(phone("07785678"), "****5678");
        assert_eq!(name("张三"), "张*");
        assert_eq!(name("欧阳娜娜"), "欧***");
        assert_eq!(name(""), "");
    }

    proptest::proptest! {
        #[test]
        fn masks_never_reveal_the_middle_and_keep_length(s in "\\PC{0,24}") {
            for masked in [id_card(&s), phone(&s), name(&s)] {
                proptest::prop_assert_eq!(masked.chars().count(), s.chars().count());
            }
            let n = s.chars().count();
            if n > 10 {
                let masked: Vec<char> = id_card(&s).chars().collect();
                proptest::prop_assert!(masked[6..n - 4].iter().all(|c| *c == '*'));
            }
        }
    }
}
