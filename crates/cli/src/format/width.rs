//! Display width as docker/cli measures it: East Asian Wide and Fullwidth characters take two
//! columns, everything else one (`golang.org/x/text/width`). Used by the table writer (docker's
//! tabwriter pads by display width) and by [`ellipsis`] (`formatter.Ellipsis`).

/// Code point ranges of Unicode's East Asian Wide (W) and Fullwidth (F) characters.
const WIDE: &[(u32, u32)] = &[
    (0x1100, 0x115F),
    (0x231A, 0x231B),
    (0x2329, 0x232A),
    (0x23E9, 0x23EC),
    (0x23F0, 0x23F0),
    (0x23F3, 0x23F3),
    (0x25FD, 0x25FE),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267F, 0x267F),
    (0x2693, 0x2693),
    (0x26A1, 0x26A1),
    (0x26AA, 0x26AB),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26CE, 0x26CE),
    (0x26D4, 0x26D4),
    (0x26EA, 0x26EA),
    (0x26F2, 0x26F3),
    (0x26F5, 0x26F5),
    (0x26FA, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2705, 0x2705),
    (0x270A, 0x270B),
    (0x2728, 0x2728),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x2E80, 0x303E),
    (0x3041, 0x33FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA000, 0xA4CF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7A3),
    (0xF900, 0xFAFF),
    (0xFE10, 0xFE19),
    (0xFE30, 0xFE6F),
    (0xFF00, 0xFF60),
    (0xFFE0, 0xFFE6),
    (0x16FE0, 0x16FE4),
    (0x17000, 0x18CFF),
    (0x1B000, 0x1B2FF),
    (0x1F004, 0x1F004),
    (0x1F0CF, 0x1F0CF),
    (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A),
    (0x1F200, 0x1F251),
    (0x1F300, 0x1F320),
    (0x1F32D, 0x1F335),
    (0x1F337, 0x1F37C),
    (0x1F37E, 0x1F393),
    (0x1F3A0, 0x1F3CA),
    (0x1F3CF, 0x1F3D3),
    (0x1F3E0, 0x1F3F0),
    (0x1F3F4, 0x1F3F4),
    (0x1F3F8, 0x1F43E),
    (0x1F440, 0x1F440),
    (0x1F442, 0x1F4FC),
    (0x1F4FF, 0x1F53D),
    (0x1F54B, 0x1F54E),
    (0x1F550, 0x1F567),
    (0x1F57A, 0x1F57A),
    (0x1F595, 0x1F596),
    (0x1F5A4, 0x1F5A4),
    (0x1F5FB, 0x1F64F),
    (0x1F680, 0x1F6C5),
    (0x1F6CC, 0x1F6CC),
    (0x1F6D0, 0x1F6D2),
    (0x1F6D5, 0x1F6D7),
    (0x1F6EB, 0x1F6EC),
    (0x1F6F4, 0x1F6FC),
    (0x1F7E0, 0x1F7EB),
    (0x1F90C, 0x1F93A),
    (0x1F93C, 0x1F945),
    (0x1F947, 0x1F9FF),
    (0x1FA70, 0x1FAFF),
    (0x20000, 0x2FFFD),
    (0x30000, 0x3FFFD),
];

/// Columns one character takes.
pub fn char_width(c: char) -> usize {
    let c = c as u32;
    if c < 0x1100 {
        return 1;
    }
    let i = WIDE.partition_point(|&(_, hi)| hi < c);
    if WIDE.get(i).is_some_and(|&(lo, _)| lo <= c) {
        2
    } else {
        1
    }
}

pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// `formatter.Ellipsis`: cuts `s` so that it fits `max` columns with a trailing `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    match max {
        0 => return String::new(),
        1 => return s.chars().next().map(String::from).unwrap_or_default(),
        _ => {}
    }
    if display_width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw > max - 1 {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("日本語、"), 8);
        assert_eq!(display_width("héllo"), 5);
        assert_eq!(char_width('…'), 1);
        assert_eq!(char_width('가'), 2);
        assert_eq!(char_width('😀'), 2);
        assert_eq!(char_width('\u{30000}'), 2);
    }

    #[test]
    fn ellipsis_like_docker() {
        assert_eq!(ellipsis("short", 45), "short");
        let s = "/bin/sh -c apk add --no-cache ca-certificates && echo done > /etc/done";
        assert_eq!(
            ellipsis(s, 45),
            "/bin/sh -c apk add --no-cache ca-certificate…"
        );
        assert_eq!(ellipsis(&"x".repeat(45), 45), "x".repeat(45));
        // Wide characters count two columns; the cut never splits one.
        assert_eq!(
            ellipsis("ENV GREETING=日本語のあいさつ、こんにちは世界 and more", 45),
            "ENV GREETING=日本語のあいさつ、こんにちは世…"
        );
        assert_eq!(ellipsis("日本", 3), "日…");
        assert_eq!(ellipsis("abc", 1), "a");
        assert_eq!(ellipsis("abc", 0), "");
    }
}
