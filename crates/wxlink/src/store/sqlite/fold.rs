//! Case-insensitive substring search that agrees with the FTS5 `trigram` tokenizer: its case
//! folding ported to Rust, and [`CONTAINS_FN`], the SQL function that tests one row the same
//! way the index would match it.

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

use crate::store::StoreResult;

/// Name of the SQL function that does the case-insensitive substring test: `(text, needle)`
/// where `needle` is already folded with [`fold`]. NULL text gives NULL (no match).
pub(super) const CONTAINS_FN: &str = "wxlink_contains";

/// Registers [`CONTAINS_FN`] on a connection.
pub(super) fn register_functions(conn: &Connection) -> StoreResult<()> {
    conn.create_scalar_function(
        CONTAINS_FN,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            // Anything but two texts (NULL, a number, a blob) is no match.
            let haystack = ctx.get_raw(0).as_str_or_null().ok().flatten();
            let needle = ctx.get_raw(1).as_str_or_null().ok().flatten();
            Ok(match (haystack, needle) {
                (Some(h), Some(n)) => Some(contains_folded(h, n)),
                _ => None,
            })
        },
    )?;
    Ok(())
}

/// Case folding shared by every search path: the FTS5 `trigram` tokenizer's (which also
/// skips NUL characters), so a row test agrees with the index.
pub(crate) fn fold(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\0')
        .map(fts5_fold::fold_char)
        .collect()
}

/// Whether no character of `s` is changed by [`fold`] or is what another character folds to
/// (CJK, digits, punctuation…): then a plain substring test is the folded one.
pub(super) fn is_caseless(s: &str) -> bool {
    s.chars()
        .all(|c| fts5_fold::fold_char(c) == c && !fts5_fold::is_fold_target(c))
}

/// Whether `haystack`, folded, contains `needle` (already folded).
pub(super) fn contains_folded(haystack: &str, needle: &str) -> bool {
    if haystack.as_bytes().contains(&0) {
        return fold(haystack).contains(needle);
    }
    if is_caseless(needle) {
        return haystack.contains(needle);
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    fold(haystack).contains(needle)
}

/// SQLite's FTS5 case folding (`sqlite3Fts5UnicodeFold` without diacritic removal, as the
/// `trigram` tokenizer uses it), ported with its tables from the bundled `sqlite3.c` (where
/// they are generated from Unicode's CaseFolding.txt). `char::to_lowercase` differs for
/// scripts cased in newer Unicode versions. The test `fts_and_row_test_fold_case_alike`
/// catches drift when SQLite is upgraded.
pub(super) mod fts5_fold {
    use std::sync::OnceLock;

    /// `(first code point, flags, range length)`: the code points of the range (all of them,
    /// or every second one when bit 0 of flags is set) fold to `c + FOLD_OFFSETS[flags >> 1]`
    /// (mod 2^16).
    #[rustfmt::skip]
    const FOLD_RULES: [(u16, u8, u8); 163] = [
        (65, 14, 26), (181, 64, 1), (192, 14, 23), (216, 14, 7), (256, 1, 48), (306, 1, 6),
        (313, 1, 16), (330, 1, 46), (376, 116, 1), (377, 1, 6), (383, 104, 1), (385, 50, 1),
        (386, 1, 4), (390, 44, 1), (391, 0, 1), (393, 42, 2), (395, 0, 1), (398, 32, 1),
        (399, 38, 1), (400, 40, 1), (401, 0, 1), (403, 42, 1), (404, 46, 1), (406, 52, 1),
        (407, 48, 1), (408, 0, 1), (412, 52, 1), (413, 54, 1), (415, 56, 1), (416, 1, 6),
        (422, 60, 1), (423, 0, 1), (425, 60, 1), (428, 0, 1), (430, 60, 1), (431, 0, 1),
        (433, 58, 2), (435, 1, 4), (439, 62, 1), (440, 0, 1), (444, 0, 1), (452, 2, 1),
        (453, 0, 1), (455, 2, 1), (456, 0, 1), (458, 2, 1), (459, 1, 18), (478, 1, 18),
        (497, 2, 1), (498, 1, 4), (502, 122, 1), (503, 134, 1), (504, 1, 40), (544, 110, 1),
        (546, 1, 18), (570, 70, 1), (571, 0, 1), (573, 108, 1), (574, 68, 1), (577, 0, 1),
        (579, 106, 1), (580, 28, 1), (581, 30, 1), (582, 1, 10), (837, 36, 1), (880, 1, 4),
        (886, 0, 1), (902, 18, 1), (904, 16, 3), (908, 26, 1), (910, 24, 2), (913, 14, 17),
        (931, 14, 9), (962, 0, 1), (975, 4, 1), (976, 140, 1), (977, 142, 1), (981, 146, 1),
        (982, 144, 1), (984, 1, 24), (1008, 136, 1), (1009, 138, 1), (1012, 130, 1), (1013, 128, 1),
        (1015, 0, 1), (1017, 152, 1), (1018, 0, 1), (1021, 110, 3), (1024, 34, 16), (1040, 14, 32),
        (1120, 1, 34), (1162, 1, 54), (1216, 6, 1), (1217, 1, 14), (1232, 1, 88), (1329, 22, 38),
        (4256, 66, 38), (4295, 66, 1), (4301, 66, 1), (7680, 1, 150), (7835, 132, 1), (7838, 96, 1),
        (7840, 1, 96), (7944, 150, 8), (7960, 150, 6), (7976, 150, 8), (7992, 150, 8), (8008, 150, 6),
        (8025, 151, 8), (8040, 150, 8), (8072, 150, 8), (8088, 150, 8), (8104, 150, 8), (8120, 150, 2),
        (8122, 126, 2), (8124, 148, 1), (8126, 100, 1), (8136, 124, 4), (8140, 148, 1), (8152, 150, 2),
        (8154, 120, 2), (8168, 150, 2), (8170, 118, 2), (8172, 152, 1), (8184, 112, 2), (8186, 114, 2),
        (8188, 148, 1), (8486, 98, 1), (8490, 92, 1), (8491, 94, 1), (8498, 12, 1), (8544, 8, 16),
        (8579, 0, 1), (9398, 10, 26), (11264, 22, 47), (11360, 0, 1), (11362, 88, 1), (11363, 102, 1),
        (11364, 90, 1), (11367, 1, 6), (11373, 84, 1), (11374, 86, 1), (11375, 80, 1), (11376, 82, 1),
        (11378, 0, 1), (11381, 0, 1), (11390, 78, 2), (11392, 1, 100), (11499, 1, 4), (11506, 0, 1),
        (42560, 1, 46), (42624, 1, 24), (42786, 1, 14), (42802, 1, 62), (42873, 1, 4), (42877, 76, 1),
        (42878, 1, 10), (42891, 0, 1), (42893, 74, 1), (42896, 1, 4), (42912, 1, 10), (42922, 72, 1),
        (65313, 14, 26),
    ];
    const FOLD_OFFSETS: [u16; 77] = [
        1, 2, 8, 15, 16, 26, 28, 32, 37, 38, 40, 48, 63, 64, 69, 71, 79, 80, 116, 202, 203, 205,
        206, 207, 209, 210, 211, 213, 214, 217, 218, 219, 775, 7264, 10792, 10795, 23228, 23256,
        30204, 54721, 54753, 54754, 54756, 54787, 54793, 54809, 57153, 57274, 57921, 58019, 58363,
        61722, 65268, 65341, 65373, 65406, 65408, 65410, 65415, 65424, 65436, 65439, 65450, 65462,
        65472, 65476, 65478, 65480, 65482, 65488, 65506, 65511, 65514, 65521, 65527, 65528, 65529,
    ];

    /// The folded form of `c`.
    pub fn fold_char(c: char) -> char {
        let code = u32::from(c);
        let folded = if code < 128 {
            u32::from(c.to_ascii_lowercase())
        } else if code < 0x1_0000 {
            let next = FOLD_RULES.partition_point(|r| u32::from(r.0) <= code);
            match next.checked_sub(1).and_then(|i| FOLD_RULES.get(i)) {
                Some(&(first, flags, len)) => {
                    let first = u32::from(first);
                    let in_range = code < first + u32::from(len);
                    let skipped = u32::from(flags) & 1 & (first ^ code) != 0;
                    match FOLD_OFFSETS.get(usize::from(flags >> 1)) {
                        Some(&offset) if in_range && !skipped => {
                            (code + u32::from(offset)) & 0xFFFF
                        }
                        _ => code,
                    }
                }
                None => code,
            }
        } else if (66_560..66_600).contains(&code) {
            code + 40
        } else {
            code
        };
        char::from_u32(folded).unwrap_or(c)
    }

    /// Whether some other character folds to `c`.
    pub fn is_fold_target(c: char) -> bool {
        static TARGETS: OnceLock<Vec<char>> = OnceLock::new();
        let targets = TARGETS.get_or_init(|| {
            let mut t: Vec<char> = (128..0x1_0000)
                .chain(66_560..66_600)
                .filter_map(char::from_u32)
                .filter_map(|c| Some(fold_char(c)).filter(|&f| f != c))
                .chain('a'..='z')
                .collect();
            t.sort_unstable();
            t.dedup();
            t
        });
        targets.binary_search(&c).is_ok()
    }
}
