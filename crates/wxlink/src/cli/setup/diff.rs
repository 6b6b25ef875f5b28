//! A unified diff of two texts (what `--dry-run` shows): common lines at both ends are set
//! aside, the rest compared by longest common subsequence, and changes shown with three lines
//! of context, as `diff -u` does.

const CONTEXT: usize = 3;
/// Above this many cells the middle is shown as replaced wholesale (config files never get
/// near it; it only bounds memory).
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same,
    Del,
    Add,
}

/// The unified diff from `old` to `new`, labelled with `path`; empty when they are equal.
pub fn unified(path: &str, old: Option<&str>, new: Option<&str>) -> String {
    if old == new {
        return String::new();
    }
    let a: Vec<&str> = old.map(|t| t.lines().collect()).unwrap_or_default();
    let b: Vec<&str> = new.map(|t| t.lines().collect()).unwrap_or_default();
    let ops = edit_script(&a, &b);
    let mut out = format!(
        "--- {}\n+++ {}\n",
        if old.is_some() { path } else { "/dev/null" },
        if new.is_some() { path } else { "/dev/null" }
    );
    // Positions (index into ops) of changes, grouped into hunks with context.
    let changed: Vec<usize> = (0..ops.len()).filter(|&i| ops[i] != Op::Same).collect();
    let mut i = 0;
    while i < changed.len() {
        let start = changed[i].saturating_sub(CONTEXT);
        let mut end = changed[i];
        while i < changed.len() && changed[i] <= end + 2 * CONTEXT + 1 {
            end = changed[i];
            i += 1;
        }
        let end = (end + CONTEXT + 1).min(ops.len());
        // Line numbers at `start`.
        let (mut ln_a, mut ln_b) = (0, 0);
        for op in &ops[..start] {
            match op {
                Op::Same => {
                    ln_a += 1;
                    ln_b += 1
                }
                Op::Del => ln_a += 1,
                Op::Add => ln_b += 1,
            }
        }
        let (mut ia, mut ib) = (ln_a, ln_b);
        let mut body = String::new();
        for op in &ops[start..end] {
            match op {
                Op::Same => {
                    body.push_str(&format!(" {}\n", a[ia]));
                    ia += 1;
                    ib += 1;
                }
                Op::Del => {
                    body.push_str(&format!("-{}\n", a[ia]));
                    ia += 1;
                }
                Op::Add => {
                    body.push_str(&format!("+{}\n", b[ib]));
                    ib += 1;
                }
            }
        }
        let range = |from: usize, len: usize| {
            let first = if len == 0 { from } else { from + 1 };
            format!("{first},{len}")
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n{body}",
            range(ln_a, ia - ln_a),
            range(ln_b, ib - ln_b)
        ));
    }
    out
}

fn edit_script(a: &[&str], b: &[&str]) -> Vec<Op> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut ops = vec![Op::Same; prefix];
    if ma.len().saturating_mul(mb.len()) > MAX_CELLS {
        ops.extend(std::iter::repeat_n(Op::Del, ma.len()));
        ops.extend(std::iter::repeat_n(Op::Add, mb.len()));
    } else {
        // lcs[i][j]: longest common subsequence of ma[i..] and mb[j..].
        let w = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * w];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                ops.push(Op::Same);
                i += 1;
                j += 1;
            } else if i < ma.len() && (j == mb.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
            {
                ops.push(Op::Del);
                i += 1;
            } else {
                ops.push(Op::Add);
                j += 1;
            }
        }
    }
    ops.extend(std::iter::repeat_n(Op::Same, suffix));
    ops
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn a_change_in_the_middle_gets_one_hunk_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        assert_eq!(
            unified("x", Some(old), Some(new)),
            "--- x\n+++ x\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
    }

    #[test]
    fn new_and_removed_files_diff_against_nothing() {
        assert_eq!(
            unified("x", None, Some("1\n2\n")),
            "--- /dev/null\n+++ x\n@@ -0,0 +1,2 @@\n+1\n+2\n"
        );
        assert_eq!(
            unified("x", Some("1\n"), None),
            "--- x\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-1\n"
        );
        assert_eq!(unified("x", Some("same"), Some("same")), "");
    }
}
